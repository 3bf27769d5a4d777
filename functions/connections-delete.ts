import { authorize } from '../src/api/auth';
import { connectionIdFrom, deleteConnectionAndExports, deleteOptionsFrom } from '../src/api/connections';
import { getAppContext } from '../src/app/context';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const connectionsDelete = defineHttp(
  'connections-delete',
  { route: 'api/connections/{connectionId}', methods: ['DELETE'] },
  async (request) => {
    const principal = authorize(request, 'connection:manage');
    const connectionId = connectionIdFrom(request);
    await deleteConnectionAndExports(getAppContext(), principal, connectionId, deleteOptionsFrom(request));
    return { status: 204 };
  },
);

app.http(connectionsDelete.name, connectionsDelete.options);
