import { handleCreateExport } from '../src/api/exports';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const exportsCreate = defineHttp('exports-create', { route: 'api/exports', methods: ['POST'] }, handleCreateExport);

app.http(exportsCreate.name, exportsCreate.options);
