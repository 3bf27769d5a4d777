import { handleCancelRun } from '../src/api/runs';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const runsCancel = defineHttp('runs-cancel', { route: 'api/runs/{runId}/cancel', methods: ['POST'] }, handleCancelRun);

app.http(runsCancel.name, runsCancel.options);
