import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain/audit';
import type { ExportCreated } from '../../src/domain/export';
import type { SourceResource } from '../../src/domain/source';
import { allTableEntities } from '../integration/connections/seed';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

/**
 * The audit log through the local host (Azurite, the emulators): every kind of resource an Admin
 * changes leaves its entries — exports, their notification targets, segments, sources, runs
 * (started, with confirmRemovals, cancelled) — with who did it and the fields that changed, and
 * never a notification URL's path (Slack and Teams carry their token there) or a signing secret.
 */
let app: TestApp;
const ADMIN = { name: 'ada@example.com', roles: ['Admin'], userId: 'oid-ada' };

beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

async function auditOf(resourceType: string, resourceId: string): Promise<AuditEntry[]> {
  const page = await app.api<{ items: AuditEntry[] }>('GET', `audit?resourceType=${resourceType}&resourceId=${encodeURIComponent(resourceId)}`);
  expect(page.status).toBe(200);
  return page.body.items;
}

describe('the audit log of every resource kind', () => {
  it('records exports and their notification targets, by host, never the secret', async () => {
    const connectionId = await app.createConnection('iterable');
    await app.uploadSegment('audited', 'Audited', segmentCsv([{ id: '1', email: 'a@example.com' }]));
    const token = randomBytes(12).toString('hex');
    const created = await app.api<ExportCreated>('POST', 'exports', {
      principal: ADMIN,
      json: { name: 'Audited export', connectionId, segmentIds: ['audited'], mapping: { email: 'Email' } },
    });
    expect(created.status).toBe(201);
    const exportId = created.body.id;
    const hook = `https://hooks.slack.com/services/T000/B000/${token}`;
    const updated = await app.api<ExportCreated>('PATCH', `exports/${exportId}`, {
      principal: ADMIN,
      json: { name: 'Audited export (nightly)', notifications: [{ url: hook, events: ['run.failed'], format: 'slack' }] },
    });
    expect(updated.status).toBe(200);
    const secret = updated.body.notificationSecret!;
    expect(secret).toBeDefined();
    expect((await app.api('PATCH', `exports/${exportId}`, { principal: ADMIN, json: { notifications: [] } })).status).toBe(200);
    expect((await app.api('DELETE', `exports/${exportId}`, { principal: ADMIN })).status).toBe(204);

    const exportEntries = await auditOf('export', exportId);
    expect(exportEntries.map((entry) => entry.action)).toEqual(['delete', 'update', 'update', 'create']);
    for (const entry of exportEntries) expect(entry.actor).toEqual({ userId: ADMIN.userId, name: ADMIN.name });
    expect(exportEntries[2]!.changes).toEqual(
      expect.arrayContaining([
        { field: 'name', old: 'Audited export', new: 'Audited export (nightly)' },
        { field: 'notifications', new: [{ url: 'hooks.slack.com', events: ['run.failed'], format: 'slack' }] },
      ]),
    );
    const targets = await auditOf('notification', exportId);
    expect(targets.map((entry) => entry.action)).toEqual(['delete', 'create']);
    expect(targets[1]!.changes).toEqual([
      { field: 'notifications', new: [{ url: 'hooks.slack.com', events: ['run.failed'], format: 'slack' }] },
      { field: 'notificationSecret', note: expect.stringContaining('signing secret created') },
    ]);
    expect(targets[0]!.changes).toEqual([{ field: 'notifications', old: [{ url: 'hooks.slack.com', events: ['run.failed'], format: 'slack' }] }]);

    const audit = (await allTableEntities(app.context)).map((entity) => JSON.stringify(entity)).filter((row) => row.includes('"partitionKey":"audit"')).join('\n');
    expect(audit).toContain(exportId);
    expect(audit).not.toContain(token);
    expect(audit).not.toContain(secret);
  });

  it('records segment uploads and deletion, and runs started (confirmRemovals named) and cancelled', async () => {
    const connectionId = await app.createConnection('iterable');
    await app.uploadSegment('audited-runs', 'Runs', segmentCsv([{ id: '1', email: 'b@example.com' }]));
    await app.uploadSegment('audited-runs', 'Runs', segmentCsv([{ id: '1', email: 'b@example.com' }, { id: '2', email: 'c@example.com' }]));
    const segment = await auditOf('segment', 'audited-runs');
    expect(segment.map((entry) => entry.action)).toEqual(['update', 'create']);
    expect(segment[0]!.changes).toEqual(expect.arrayContaining([{ field: 'memberCount', old: 1, new: 2 }]));

    const exportId = await app.createExport({ name: 'Runs export', connectionId, segmentIds: ['audited-runs'], mapping: { email: 'Email' } });
    const runId = await app.startRun(exportId, 'confirmRemovals=true');
    await app.waitForRun(runId, { intervalInMs: 50 });
    expect((await app.api('POST', `runs/${runId}/cancel`)).status).toBe(202);
    const run = await auditOf('run', runId);
    expect(run.map((entry) => entry.action)).toEqual(['cancel', 'start']);
    expect(run[1]!.summary).toContain('confirmRemovals');
    expect(run[1]!.summary).toContain(exportId);

    expect((await app.api('DELETE', 'exports/' + exportId)).status).toBe(204);
    expect((await app.api('DELETE', 'segments/audited-runs')).status).toBe(204);
    expect((await auditOf('segment', 'audited-runs')).map((entry) => entry.action)).toEqual(['delete', 'update', 'create']);
  });

  it('records sources: created, changed, scanned and deleted', async () => {
    const container = app.context.storage.blobService.getContainerClient(`audit-${randomBytes(5).toString('hex')}`);
    await container.create();
    const created = await app.api<SourceResource>('POST', 'sources', {
      principal: ADMIN,
      json: { displayName: 'Customer Insights', kind: 'csv-folder', location: { container: container.containerName, prefix: 'segments' }, runExports: false },
    });
    expect(created.status).toBe(201);
    const sourceId = created.body.id;
    expect((await app.api('PATCH', `sources/${sourceId}`, { principal: ADMIN, json: { displayName: 'Customer Insights (prod)' } })).status).toBe(200);
    expect((await app.api('POST', `sources/${sourceId}/scan`, { principal: ADMIN })).status).toBe(202);
    expect((await app.api('DELETE', `sources/${sourceId}`, { principal: ADMIN })).status).toBe(204);

    const entries = await auditOf('source', sourceId);
    expect(entries.map((entry) => entry.action)).toEqual(['delete', 'start', 'update', 'create']);
    expect(entries[2]!.changes).toEqual([{ field: 'displayName', old: 'Customer Insights', new: 'Customer Insights (prod)' }]);
    expect(entries[3]!.changes).toEqual(expect.arrayContaining([{ field: 'kind', new: 'csv-folder' }]));
    expect(entries[0]!.changes).toEqual(expect.arrayContaining([{ field: 'displayName', old: 'Customer Insights (prod)' }]));
  });
});
