import { handleListAudit } from '../src/api/audit';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const auditList = defineHttp('audit-list', { route: 'api/audit', methods: ['GET'] }, handleListAudit);

app.http(auditList.name, auditList.options);
