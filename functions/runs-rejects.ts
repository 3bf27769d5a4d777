import { handleListRejects } from '../src/api/runs';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const runsRejects = defineHttp('runs-rejects', { route: 'api/runs/{runId}/rejects', methods: ['GET'] }, handleListRejects);

app.http(runsRejects.name, runsRejects.options);
