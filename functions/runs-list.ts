import { handleListRuns } from '../src/api/runs';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const runsList = defineHttp('runs-list', { route: 'api/exports/{exportId}/runs', methods: ['GET'] }, handleListRuns);

app.http(runsList.name, runsList.options);
