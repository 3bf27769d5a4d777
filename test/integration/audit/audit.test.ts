import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../../../dev/emulators';
import { auditList } from '../../../functions/audit-list';
import { connectionsCreate } from '../../../functions/connections-create';
import { connectionsDelete } from '../../../functions/connections-delete';
import { connectionsUpdate } from '../../../functions/connections-update';
import { deleteExpiredAudit, recordAudit } from '../../../src/audit/repository';
import type { AuditEntry } from '../../../src/domain/audit';
import type { PublicConnection } from '../../../src/domain/connection';
import { KeyVaultSecretStore } from '../../../src/secrets/key-vault';
import { allTableEntities } from '../connections/seed';
import { createTestContext, type TestContext } from '../../support/context';
import { fakeCredential, fakeVaultClientOptions, startFakeKeyVault, type FakeKeyVault } from '../../support/fake-key-vault';
import { ADMIN, CONTRIBUTOR, invokeHttp } from '../../support/http';

let emulators: Emulators;
let vault: FakeKeyVault;
let context: TestContext;
let clock = new Date('2026-03-01T10:00:00.000Z');

beforeAll(async () => {
  [emulators, vault] = await Promise.all([startEmulators(), startFakeKeyVault()]);
  const secrets = new KeyVaultSecretStore(vault.url, fakeCredential, { clientOptions: fakeVaultClientOptions });
  context = await createTestContext({ env: { ...emulators.env, AUDIT_RETENTION_DAYS: '30' }, secrets, now: () => clock });
});
afterAll(async () => {
  await Promise.all([emulators.close(), vault.close()]);
});

const tick = () => {
  clock = new Date(clock.getTime() + 1_000);
};

async function auditOf(query: Record<string, string>): Promise<AuditEntry[]> {
  const response = await invokeHttp(auditList, { principal: ADMIN, query });
  expect(response.status, response.text).toBe(200);
  return (response.body as { items: AuditEntry[] }).items;
}

describe('the audit log', () => {
  it("records a connection's life, newest first, with who and what changed, and never a key", async () => {
    const key = `brevo-${randomBytes(12).toString('hex')}`;
    const rotated = `brevo-${randomBytes(12).toString('hex')}`;
    emulators.brevo.addKey(key);
    emulators.brevo.addKey(rotated);
    const created = await invokeHttp(connectionsCreate, { principal: ADMIN, json: { displayName: 'Brevo', provider: 'brevo', apiKey: key, acceptPrivacyTerms: true } });
    expect(created.status).toBe(201);
    const connectionId = (created.body as PublicConnection).id;
    tick();
    await invokeHttp(connectionsUpdate, { principal: ADMIN, params: { connectionId }, json: { displayName: 'Brevo (main)', allowContributors: true } });
    tick();
    await invokeHttp(connectionsUpdate, { principal: ADMIN, params: { connectionId }, json: { apiKey: rotated } });
    tick();
    expect((await invokeHttp(connectionsDelete, { principal: ADMIN, params: { connectionId } })).status).toBe(204);

    const entries = await auditOf({ resourceType: 'connection', resourceId: connectionId });
    expect(entries.map((entry) => entry.action)).toEqual(['delete', 'rotate_key', 'update', 'create']);
    for (const entry of entries) expect(entry.actor).toEqual({ userId: ADMIN.userId, name: ADMIN.name });
    const [deleted, rotation, update, creation] = entries;
    expect(update!.changes).toEqual([
      { field: 'allowContributors', old: false, new: true },
      { field: 'displayName', old: 'Brevo', new: 'Brevo (main)' },
    ]);
    expect(rotation).toMatchObject({ summary: 'key rotated', changes: [{ field: 'apiKey', note: 'key rotated' }] });
    expect(creation!.changes).toEqual(expect.arrayContaining([{ field: 'displayName', new: 'Brevo' }, { field: 'apiKey', note: 'key set' }]));
    expect(deleted!.changes).toEqual(expect.arrayContaining([{ field: 'displayName', old: 'Brevo (main)' }]));
    expect(Date.parse(entries[0]!.at)).toBeGreaterThan(Date.parse(entries[3]!.at));

    // The leak scan of the connection tests, over every table (the audit rows included) and the log.
    const scanned = [...(await allTableEntities(context)).map((entity) => JSON.stringify(entity)), ...context.logs.map((record) => JSON.stringify(record)), JSON.stringify(entries)].join('\n');
    expect(scanned).toContain(connectionId);
    expect(scanned).not.toContain(key);
    expect(scanned).not.toContain(rotated);
  });

  it('is for Admins only, refuses a forged continuation token, and pages', async () => {
    expect((await invokeHttp(auditList, { principal: CONTRIBUTOR })).status).toBe(403);
    expect((await invokeHttp(auditList, {})).status).toBe(401);
    expect((await invokeHttp(auditList, { principal: ADMIN, query: { continuationToken: 'forged' } })).status).toBe(400);
    expect((await invokeHttp(auditList, { principal: ADMIN, query: { resourceType: 'nonsense' } })).status).toBe(400);
    for (let index = 0; index < 105; index++) {
      await recordAudit(context, { actor: { userId: 'u', name: 'n' }, action: 'start', resourceType: 'run', resourceId: `paged-${index}` });
    }
    const first = await invokeHttp(auditList, { principal: ADMIN, query: { resourceType: 'run' } });
    const page = first.body as { items: AuditEntry[]; continuationToken?: string };
    expect(page.items).toHaveLength(100);
    expect(page.continuationToken).toBeDefined();
    const second = await invokeHttp(auditList, { principal: ADMIN, query: { resourceType: 'run', continuationToken: page.continuationToken! } });
    expect((second.body as { items: AuditEntry[] }).items).toHaveLength(5);
    // The token is sealed for its filter: borrowed for another listing, or altered, it is a 400.
    expect((await invokeHttp(auditList, { principal: ADMIN, query: { resourceType: 'export', continuationToken: page.continuationToken! } })).status).toBe(400);
    expect((await invokeHttp(auditList, { principal: ADMIN, query: { resourceType: 'run', continuationToken: `${page.continuationToken!}x` } })).status).toBe(400);
  });

  it('keeps entries AUDIT_RETENTION_DAYS days and deletes the older ones', async () => {
    const old = await recordAudit(context, { actor: { userId: 'u', name: 'n' }, action: 'create', resourceType: 'segment', resourceId: 'retention-old' });
    clock = new Date(clock.getTime() + 31 * 86_400_000);
    await recordAudit(context, { actor: { userId: 'u', name: 'n' }, action: 'create', resourceType: 'segment', resourceId: 'retention-new' });
    expect(await deleteExpiredAudit(context)).toBeGreaterThan(0);
    const left = await auditOf({ resourceType: 'segment' });
    expect(left.map((entry) => entry.resourceId)).toEqual(['retention-new']);
    expect(old).toBeDefined();
  });
});
