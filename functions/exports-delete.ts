import { handleDeleteExport } from '../src/api/exports';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const exportsDelete = defineHttp('exports-delete', { route: 'api/exports/{exportId}', methods: ['DELETE'] }, handleDeleteExport);

app.http(exportsDelete.name, exportsDelete.options);
