import { handleListSources } from '../src/api/sources';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const sourcesList = defineHttp('sources-list', { route: 'api/sources', methods: ['GET'] }, handleListSources);

app.http(sourcesList.name, sourcesList.options);
