import { beforeEach, describe, expect, it } from 'vitest';
import { connectionsDelete } from '../../../functions/connections-delete';
import { getConnection } from '../../../src/connections/repository';
import { requireConnectionForUse } from '../../../src/connections/service';
import { exportsUsingConnection } from '../../../src/exports/repository';
import { createTestContext, type TestContext } from '../../support/context';
import { ADMIN, invokeHttp } from '../../support/http';
import { seedConnection, seedExport } from './seed';

let context: TestContext;

beforeEach(async () => {
  context = await createTestContext();
});

describe('DELETE /api/connections/{connectionId}', () => {
  it('answers 409 naming the exports that use the connection, and keeps everything', async () => {
    const connection = await seedConnection(context, { apiKey: 'still-needed' });
    const exportId = await seedExport(context, connection.id);
    const response = await invokeHttp(connectionsDelete, { principal: ADMIN, params: { connectionId: connection.id } });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ error: { code: 'conflict', details: { exportIds: [exportId] } } });
    expect((await requireConnectionForUse(context, connection.id)).apiKey).toBe('still-needed');
  });

  it('with ?force=true deletes the exports that use it, the connection and its key', async () => {
    const connection = await seedConnection(context);
    const other = await seedConnection(context);
    await seedExport(context, connection.id);
    await seedExport(context, connection.id);
    const untouched = await seedExport(context, other.id);
    const response = await invokeHttp(connectionsDelete, { principal: ADMIN, params: { connectionId: connection.id }, query: { force: 'true' } });
    expect(response.status, response.text).toBe(204);
    expect(await getConnection(context, connection.id)).toBeUndefined();
    expect(await context.secrets.getSecret(connection.secretName)).toBeUndefined();
    expect(await exportsUsingConnection(context, connection.id)).toEqual([]);
    expect(await exportsUsingConnection(context, other.id)).toEqual([untouched]);
    expect(context.logs.find((record) => record.message === 'connection deleted')).toMatchObject({ connectionId: connection.id, deletedExports: 2 });
  });

  it('deletes an unused connection and its key; a second delete answers 404', async () => {
    const connection = await seedConnection(context);
    expect((await invokeHttp(connectionsDelete, { principal: ADMIN, params: { connectionId: connection.id } })).status).toBe(204);
    expect(await context.secrets.getSecret(connection.secretName)).toBeUndefined();
    const again = await invokeHttp(connectionsDelete, { principal: ADMIN, params: { connectionId: connection.id } });
    expect(again.status).toBe(404);
  });
});

describe('requireConnectionForUse', () => {
  it('answers not_found for an unknown connection', async () => {
    await expect(requireConnectionForUse(context, 'no-such-connection')).rejects.toMatchObject({ code: 'not_found', status: 404 });
  });

  it('answers a clear conflict when the key is gone from the store', async () => {
    const connection = await seedConnection(context);
    await context.secrets.deleteSecret(connection.secretName);
    await expect(requireConnectionForUse(context, connection.id)).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('no API key') as string,
    });
  });
});
