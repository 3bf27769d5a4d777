import { handleUpdateSource } from '../src/api/sources';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const sourcesUpdate = defineHttp('sources-update', { route: 'api/sources/{sourceId}', methods: ['PATCH'] }, handleUpdateSource);

app.http(sourcesUpdate.name, sourcesUpdate.options);
