import { handleScanSource } from '../src/api/sources';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const sourcesScan = defineHttp('sources-scan', { route: 'api/sources/{sourceId}/scan', methods: ['POST'] }, handleScanSource);

app.http(sourcesScan.name, sourcesScan.options);
