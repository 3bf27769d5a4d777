import { handleGetRun } from '../src/api/runs';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const runsGet = defineHttp('runs-get', { route: 'api/runs/{runId}', methods: ['GET'] }, handleGetRun);

app.http(runsGet.name, runsGet.options);
