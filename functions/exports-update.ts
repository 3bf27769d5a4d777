import { handleUpdateExport } from '../src/api/exports';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const exportsUpdate = defineHttp('exports-update', { route: 'api/exports/{exportId}', methods: ['PATCH'] }, handleUpdateExport);

app.http(exportsUpdate.name, exportsUpdate.options);
