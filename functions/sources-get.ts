import { handleGetSource } from '../src/api/sources';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const sourcesGet = defineHttp('sources-get', { route: 'api/sources/{sourceId}', methods: ['GET'] }, handleGetSource);

app.http(sourcesGet.name, sourcesGet.options);
