import { authorize } from '../src/api/auth';
import { connectionIdFrom, updateAuditedConnection } from '../src/api/connections';
import { readJsonBody } from '../src/api/validation';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { updateConnectionBodySchema } from '../src/domain/connection';
import { app } from './app';

export const connectionsUpdate = defineHttp(
  'connections-update',
  { route: 'api/connections/{connectionId}', methods: ['PATCH'] },
  async (request) => {
    const principal = authorize(request, 'connection:manage');
    const connectionId = connectionIdFrom(request);
    const body = await readJsonBody(request, updateConnectionBodySchema);
    return json(200, await updateAuditedConnection(getAppContext(), principal, connectionId, body));
  },
);

app.http(connectionsUpdate.name, connectionsUpdate.options);
