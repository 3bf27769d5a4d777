import { handleCreateSource } from '../src/api/sources';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const sourcesCreate = defineHttp('sources-create', { route: 'api/sources', methods: ['POST'] }, handleCreateSource);

app.http(sourcesCreate.name, sourcesCreate.options);
