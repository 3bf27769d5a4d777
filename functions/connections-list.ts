import { authorize } from '../src/api/auth';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { listVisibleConnections } from '../src/connections/service';
import { app } from './app';

export const connectionsList = defineHttp('connections-list', { route: 'api/connections', methods: ['GET'] }, async (request) => {
  const principal = authorize(request, 'connection:read');
  return json(200, { items: await listVisibleConnections(getAppContext(), principal) });
});

app.http(connectionsList.name, connectionsList.options);
