import { handleRefresh } from '../src/api/runs';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const refreshNow = defineHttp('refresh-now', { route: 'api/refresh', methods: ['POST'] }, handleRefresh);

app.http(refreshNow.name, refreshNow.options);
