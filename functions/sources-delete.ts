import { handleDeleteSource } from '../src/api/sources';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const sourcesDelete = defineHttp('sources-delete', { route: 'api/sources/{sourceId}', methods: ['DELETE'] }, handleDeleteSource);

app.http(sourcesDelete.name, sourcesDelete.options);
