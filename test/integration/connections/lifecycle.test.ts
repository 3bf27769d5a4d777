import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionsCreate } from '../../../functions/connections-create';
import { connectionsDelete } from '../../../functions/connections-delete';
import { connectionsGet } from '../../../functions/connections-get';
import { connectionsList } from '../../../functions/connections-list';
import { connectionsUpdate } from '../../../functions/connections-update';
import type { HttpDefinition } from '../../../src/app/definitions';
import { requireConnectionForUse } from '../../../src/connections/service';
import type { PublicConnection } from '../../../src/domain/connection';
import { KeyVaultSecretStore } from '../../../src/secrets/key-vault';
import { startEmulators, type Emulators } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { fakeCredential, fakeVaultClientOptions, startFakeKeyVault, type FakeKeyVault } from '../../support/fake-key-vault';
import { ADMIN, CONTRIBUTOR, invokeHttp, type InvokeOptions, type InvokeResult } from '../../support/http';
import { allTableEntities } from './seed';

let emulators: Emulators;
let vault: FakeKeyVault;
let context: TestContext;

beforeAll(async () => {
  [emulators, vault] = await Promise.all([startEmulators(), startFakeKeyVault()]);
  const secrets = new KeyVaultSecretStore(vault.url, fakeCredential, { clientOptions: fakeVaultClientOptions });
  context = await createTestContext({ env: emulators.env, secrets });
});
afterAll(async () => {
  await Promise.all([emulators.close(), vault.close()]);
});

/** A key no other test uses, accepted by the provider's emulator from now on. */
function newKey(provider: 'iterable' | 'brevo' | 'omnisend'): string {
  const key = `${provider}-${randomBytes(12).toString('hex')}`;
  emulators[provider].addKey(key);
  return key;
}

describe('the connection lifecycle through the HTTP handlers', () => {
  it('creates, reads, lists, patches, rotates and deletes — and the keys appear nowhere but the vault', async () => {
    const responses: InvokeResult[] = [];
    const call = async (definition: HttpDefinition, options: InvokeOptions): Promise<InvokeResult> => {
      const response = await invokeHttp(definition, options);
      responses.push(response);
      return response;
    };
    const keys = { iterable: newKey('iterable'), brevo: newKey('brevo'), omnisend: newKey('omnisend') };
    const rotated = newKey('brevo');

    const created: Record<string, PublicConnection> = {};
    for (const provider of ['iterable', 'brevo', 'omnisend'] as const) {
      const response = await call(connectionsCreate, {
        principal: ADMIN,
        json: {
          displayName: `${provider} account`,
          provider,
          apiKey: keys[provider],
          acceptPrivacyTerms: true,
          allowContributors: provider !== 'omnisend',
          ...(provider === 'iterable' ? { options: { region: 'eu' } } : {}),
        },
      });
      expect(response.status, response.text).toBe(201);
      const connection = response.body as PublicConnection;
      expect(response.headers.get('location')).toBe(`/api/connections/${connection.id}`);
      expect(connection).toMatchObject({
        displayName: `${provider} account`,
        provider,
        options: provider === 'iterable' ? { region: 'eu' } : {},
        consent: { acceptedBy: ADMIN.name, acceptedByUserId: ADMIN.userId, acceptedAt: expect.any(String) as string },
      });
      created[provider] = connection;
    }
    const brevo = created.brevo!;

    expect((await call(connectionsGet, { principal: ADMIN, params: { connectionId: brevo.id } })).body).toEqual(brevo);
    const listed = await call(connectionsList, { principal: CONTRIBUTOR });
    expect((listed.body as { items: PublicConnection[] }).items.map((item) => item.provider).sort()).toEqual(['brevo', 'iterable']);

    const renamed = await call(connectionsUpdate, { principal: ADMIN, params: { connectionId: brevo.id }, json: { displayName: 'Brevo (main)' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ displayName: 'Brevo (main)', consent: brevo.consent });

    const rotation = await call(connectionsUpdate, { principal: ADMIN, params: { connectionId: brevo.id }, json: { apiKey: rotated } });
    expect(rotation.status, rotation.text).toBe(200);
    expect((await requireConnectionForUse(context, brevo.id)).apiKey).toBe(rotated);

    // Positive control: the scan below finds a key where one is.
    expect(vault.allValues()).toEqual(expect.arrayContaining([...Object.values(keys), rotated]));
    const everything = () =>
      allTableEntities(context).then((entities) => [
        ...entities.map((entity) => JSON.stringify(entity)),
        ...context.logs.map((record) => JSON.stringify(record)),
        ...responses.map((response) => response.text),
      ]);
    const beforeDelete = await everything();
    expect(beforeDelete.join('\n')).toContain(brevo.id);

    for (const connection of Object.values(created)) {
      const deleted = await call(connectionsDelete, { principal: ADMIN, params: { connectionId: connection.id } });
      expect(deleted.status).toBe(204);
      expect((await call(connectionsGet, { principal: ADMIN, params: { connectionId: connection.id } })).status).toBe(404);
    }
    expect(vault.secrets.size).toBe(0);

    const scanned = [...beforeDelete, ...(await everything())].join('\n');
    for (const key of [...Object.values(keys), rotated]) expect(scanned).not.toContain(key);
    expect(context.logs.map((record) => record.message)).toEqual(
      expect.arrayContaining(['connection created', 'connection updated', 'connection deleted']),
    );
  });
});
