import { handleListExports } from '../src/api/exports';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const exportsList = defineHttp('exports-list', { route: 'api/exports', methods: ['GET'] }, handleListExports);

app.http(exportsList.name, exportsList.options);
