import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectionsCreate } from '../../../functions/connections-create';
import { connectionsUpdate } from '../../../functions/connections-update';
import { requireConnectionForUse } from '../../../src/connections/service';
import type { PublicConnection } from '../../../src/domain/connection';
import { startEmulators, type Emulators } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { ADMIN, invokeHttp } from '../../support/http';
import { allTableEntities } from './seed';

let emulators: Emulators;
let context: TestContext;

beforeAll(async () => {
  emulators = await startEmulators();
});
afterAll(async () => {
  await emulators.close();
});
beforeEach(async () => {
  emulators.iterable.clearFaults();
  emulators.brevo.clearFaults();
  emulators.omnisend.clearFaults();
  context = await createTestContext({ env: emulators.env });
});

const body = (provider: 'iterable' | 'brevo' | 'omnisend', apiKey: string) => ({
  displayName: `${provider} account`,
  provider,
  apiKey,
  acceptPrivacyTerms: true,
});

async function expectNothingStored(): Promise<void> {
  expect(await allTableEntities(context)).toEqual([]);
}

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('verifying the key before a connection is saved', () => {
  it.each(['iterable', 'brevo', 'omnisend'] as const)('asks %s whether it accepts the key', async (provider) => {
    const emulator = emulators[provider];
    const before = emulator.requests.counts.total;
    const response = await invokeHttp(connectionsCreate, { principal: ADMIN, json: body(provider, emulator.apiKeys[0]!) });
    expect(response.status, response.text).toBe(201);
    expect(emulator.requests.counts.total).toBeGreaterThan(before);
    const expectedRoute = { iterable: 'GET /api/lists', brevo: 'GET /v3/account', omnisend: 'GET /api/contacts' }[provider];
    expect(emulator.requests.entries().at(-1)).toMatchObject({ route: expectedRoute, status: 200 });
  });

  it.each(['iterable', 'brevo', 'omnisend'] as const)('answers 422 provider_auth_failed when %s rejects the key', async (provider) => {
    const response = await invokeHttp(connectionsCreate, { principal: ADMIN, json: body(provider, 'not-a-key-the-provider-knows') });
    expect(response.status, response.text).toBe(422);
    expect(response.body).toMatchObject({ error: { code: 'provider_auth_failed' } });
    expect(response.text).not.toContain('not-a-key-the-provider-knows');
    await expectNothingStored();
  });

  it('answers 502 provider_unavailable when the provider cannot be reached', async () => {
    context = await createTestContext({ env: { ...emulators.env, BREVO_BASE_URL: `http://127.0.0.1:${await closedPort()}/v3` } });
    const response = await invokeHttp(connectionsCreate, { principal: ADMIN, json: body('brevo', emulators.brevo.apiKeys[0]!) });
    expect(response.status, response.text).toBe(502);
    expect(response.body).toMatchObject({ error: { code: 'provider_unavailable' } });
    await expectNothingStored();
  });

  it('answers 502 provider_unavailable when the provider keeps failing', async () => {
    emulators.omnisend.setFaults({ serverErrorShare: 1 });
    const response = await invokeHttp(connectionsCreate, { principal: ADMIN, json: body('omnisend', emulators.omnisend.apiKeys[0]!) });
    expect(response.status, response.text).toBe(502);
    expect(response.body).toMatchObject({ error: { code: 'provider_unavailable' } });
    await expectNothingStored();
  });

  it('re-verifies a rotated key and keeps the old one when the provider rejects the new one', async () => {
    const created = await invokeHttp(connectionsCreate, { principal: ADMIN, json: body('brevo', emulators.brevo.apiKeys[0]!) });
    const { id } = created.body as PublicConnection;
    const rejected = await invokeHttp(connectionsUpdate, { principal: ADMIN, params: { connectionId: id }, json: { apiKey: 'rotated-but-wrong' } });
    expect(rejected.status).toBe(422);
    expect(rejected.body).toMatchObject({ error: { code: 'provider_auth_failed' } });
    expect((await requireConnectionForUse(context, id)).apiKey).toBe(emulators.brevo.apiKeys[0]);
  });

  it('re-verifies the stored key when an Iterable connection moves to another region', async () => {
    const key = emulators.iterable.apiKeys[0]!;
    const created = await invokeHttp(connectionsCreate, { principal: ADMIN, json: body('iterable', key) });
    const { id, options } = created.body as PublicConnection;
    expect(options).toEqual({ region: 'us' });
    const before = emulators.iterable.requests.counts.total;
    const moved = await invokeHttp(connectionsUpdate, { principal: ADMIN, params: { connectionId: id }, json: { options: { region: 'eu' } } });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.body).toMatchObject({ options: { region: 'eu' } });
    expect(emulators.iterable.requests.counts.total).toBe(before + 1);
    const renamed = await invokeHttp(connectionsUpdate, { principal: ADMIN, params: { connectionId: id }, json: { displayName: 'EU' } });
    expect(renamed.status).toBe(200);
    expect(emulators.iterable.requests.counts.total).toBe(before + 1);
  });
});
