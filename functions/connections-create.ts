import { authorize } from '../src/api/auth';
import { connectionLocation, createAuditedConnection } from '../src/api/connections';
import { readJsonBody } from '../src/api/validation';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { createConnectionBodySchema } from '../src/domain/connection';
import { app } from './app';

export const connectionsCreate = defineHttp('connections-create', { route: 'api/connections', methods: ['POST'] }, async (request) => {
  const principal = authorize(request, 'connection:manage');
  const body = await readJsonBody(request, createConnectionBodySchema);
  const connection = await createAuditedConnection(getAppContext(), principal, body);
  return json(201, connection, { location: connectionLocation(connection.id) });
});

app.http(connectionsCreate.name, connectionsCreate.options);
