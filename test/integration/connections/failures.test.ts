import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectionsCreate } from '../../../functions/connections-create';
import { connectionsUpdate } from '../../../functions/connections-update';
import { CONNECTIONS_PARTITION, getConnection, replaceConnectionRow } from '../../../src/connections/repository';
import { KeyVaultSecretStore } from '../../../src/secrets/key-vault';
import { startEmulators, type Emulators } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { fakeCredential, fakeVaultClientOptions, startFakeKeyVault, type FakeKeyVault } from '../../support/fake-key-vault';
import { ADMIN, invokeHttp } from '../../support/http';
import { allTableEntities, seedConnection } from './seed';

let emulators: Emulators;
let vault: FakeKeyVault;
let context: TestContext;

beforeAll(async () => {
  emulators = await startEmulators();
});
afterAll(async () => {
  await emulators.close();
});
beforeEach(async () => {
  vault = await startFakeKeyVault();
  const secrets = new KeyVaultSecretStore(vault.url, fakeCredential, { clientOptions: fakeVaultClientOptions });
  context = await createTestContext({ env: emulators.env, secrets });
  return () => vault.close();
});

const create = () =>
  invokeHttp(connectionsCreate, {
    principal: ADMIN,
    json: { displayName: 'Brevo', provider: 'brevo', apiKey: emulators.brevo.apiKeys[0], acceptPrivacyTerms: true },
  });

describe('when a dependency fails', () => {
  it('answers 503 dependency_unavailable when Key Vault cannot be reached, and saves nothing', async () => {
    await vault.close();
    const response = await create();
    expect(response.status, response.text).toBe(503);
    expect(response.body).toMatchObject({ error: { code: 'dependency_unavailable' } });
    expect(await allTableEntities(context)).toEqual([]);
    vault = await startFakeKeyVault();
  });

  it('deletes the stored key again when the connection cannot be saved', async () => {
    await context.storage.tableService.deleteTable(context.storage.names.tables.connections);
    const response = await create();
    expect(response.status).toBe(500);
    expect(vault.secrets.size).toBe(0);
    expect(vault.deleted.size).toBe(1);
    const logged = JSON.stringify(context.logs);
    expect(logged).toContain('request failed');
    expect(logged).not.toContain(emulators.brevo.apiKeys[0]);
  });
});

describe('concurrent changes', () => {
  it('refuses a change based on a version of the connection that another change replaced', async () => {
    const seeded = await seedConnection(context);
    const stale = (await getConnection(context, seeded.id))!;
    const renamed = await invokeHttp(connectionsUpdate, { principal: ADMIN, params: { connectionId: seeded.id }, json: { displayName: 'First' } });
    expect(renamed.status).toBe(200);
    await expect(replaceConnectionRow(context, { ...stale.connection, displayName: 'Second' }, stale.etag)).rejects.toMatchObject({
      code: 'conflict',
      status: 409,
    });
    expect((await getConnection(context, seeded.id))?.connection.displayName).toBe('First');
  });

  it('refuses to read a row that does not have the expected shape', async () => {
    await context.storage.table(context.storage.names.tables.connections).createEntity({
      partitionKey: CONNECTIONS_PARTITION,
      rowKey: 'damaged',
      displayName: 'Damaged',
      provider: 'mailchimp',
    });
    await expect(getConnection(context, 'damaged')).rejects.toThrow();
  });
});
