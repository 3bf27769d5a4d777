import { authorize } from '../src/api/auth';
import { connectionIdFrom } from '../src/api/connections';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { requireVisibleConnection } from '../src/connections/service';
import { app } from './app';

export const connectionsGet = defineHttp(
  'connections-get',
  { route: 'api/connections/{connectionId}', methods: ['GET'] },
  async (request) => {
    const principal = authorize(request, 'connection:read');
    return json(200, await requireVisibleConnection(getAppContext(), principal, connectionIdFrom(request)));
  },
);

app.http(connectionsGet.name, connectionsGet.options);
