import { handleStartRun } from '../src/api/runs';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const runsStart = defineHttp('runs-start', { route: 'api/exports/{exportId}/runs', methods: ['POST'] }, handleStartRun);

app.http(runsStart.name, runsStart.options);
