import { handleGetExport } from '../src/api/exports';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const exportsGet = defineHttp('exports-get', { route: 'api/exports/{exportId}', methods: ['GET'] }, handleGetExport);

app.http(exportsGet.name, exportsGet.options);
