import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErasureResource } from '../../src/domain/privacy';
import type { RejectRow, RunResource } from '../../src/domain/run';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ emulators: { rateScale: 50 }, tuning: { erasureRetryDelayMs: 200 } });
});
afterAll(async () => {
  await app?.close();
});

const person = (index: number) => ({ id: `c${index}`, email: `member${index}@example.com`, firstName: `F${index}`, lastName: 'Lee' });
const members = (count: number) => Array.from({ length: count }, (_, index) => person(index));
const ERASED = 'member7@example.com';

interface Setup {
  exports: Record<'iterable' | 'brevo' | 'omnisend', string>;
  brevoListId: number;
  segmentName: string;
}

/** One export per provider of the same segment, each run once: everyone is at all three providers. */
async function exportToAllThree(segmentId: string, segmentName: string): Promise<Setup> {
  await app.uploadSegment(segmentId, segmentName, segmentCsv(members(120)));
  const brevoListId = app.emulators.brevo.createList(`List ${segmentId}`);
  const mapping = { email: 'Email', firstName: 'FirstName', lastName: 'LastName' };
  const exports = {
    iterable: await app.createExport({ name: `${segmentId} Iterable`, connectionId: await app.createConnection('iterable'), segmentIds: [segmentId], mapping }),
    brevo: await app.createExport({ name: `${segmentId} Brevo`, connectionId: await app.createConnection('brevo'), segmentIds: [segmentId], mapping, options: { listId: brevoListId } }),
    omnisend: await app.createExport({ name: `${segmentId} Omnisend`, connectionId: await app.createConnection('omnisend'), segmentIds: [segmentId], mapping }),
  };
  for (const exportId of Object.values(exports)) expect((await app.waitForRun(await app.startRun(exportId))).status).toBe('succeeded');
  return { exports, brevoListId, segmentName };
}

function holders(setup: Setup): Record<string, boolean> {
  const { iterable, brevo, omnisend } = app.emulators;
  const list = iterable.listByName(setup.segmentName)[0]!;
  return {
    iterable: iterable.listMembers(list.id).includes(ERASED),
    brevo: brevo.listMembers(setup.brevoListId).includes(ERASED),
    omnisend: omnisend.tagMembers(setup.segmentName).includes(ERASED),
  };
}

/** Waits (10 s at most) for the holders to be `expected`: Omnisend tags change asynchronously after its 202, as it documents. */
async function expectHolders(setup: Setup, expected: Record<string, boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && JSON.stringify(holders(setup)) !== JSON.stringify(expected); ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(holders(setup)).toEqual(expected);
}

async function erase(body: Record<string, unknown>): Promise<ErasureResource> {
  const started = await app.api<{ erasureId: string; statusUrl: string }>('POST', 'privacy/erasures', { json: body });
  expect(started.status).toBe(202);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const erasure = await app.api<ErasureResource>('GET', `privacy/erasures/${started.body.erasureId}`);
    expect(erasure.status).toBe(200);
    if (['succeeded', 'partially_succeeded', 'failed'].includes(erasure.body.status)) return erasure.body;
    if (Date.now() > deadline) throw new Error(`the erasure did not end: ${JSON.stringify(erasure.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('data-subject erasure', () => {
  it('removes the person from the three providers\' targets, and a later run with them still in the segment does not send them', async () => {
    const setup = await exportToAllThree('erase', 'Erase me');
    await expectHolders(setup, { iterable: true, brevo: true, omnisend: true });

    const erasure = await erase({ email: '  Member7@Example.com ' });
    expect(erasure).toMatchObject({ status: 'succeeded', deleteAtProvider: false, exportsPending: 0 });
    expect(erasure.targets.map((target) => [target.provider, target.action, target.status]).sort()).toEqual([
      ['brevo', 'remove', 'removed'],
      ['iterable', 'remove', 'removed'],
      ['omnisend', 'remove', 'removed'],
    ]);
    expect(JSON.stringify(erasure)).not.toContain('member7');
    await expectHolders(setup, { iterable: false, brevo: false, omnisend: false });
    // List and tag removal only: the contacts stay, nobody was unsubscribed globally or deleted.
    expect(app.emulators.iterable.state.globalUnsubscribes.size).toBe(0);
    expect(app.emulators.iterable.state.users.has(ERASED)).toBe(true);
    expect(app.emulators.brevo.state.contacts.has(ERASED)).toBe(true);

    for (const exportId of Object.values(setup.exports)) {
      const run = await app.waitForRun(await app.startRun(exportId, 'mode=full'));
      expect(run.status).toBe('succeeded');
      expect(run.totals).toMatchObject({ profiles: 120, suppressed: 1, adds: 0, updates: 119, removes: 0, sent: 119 });
      const rejects = await app.api<{ items: RejectRow[] }>('GET', `runs/${run.runId}/rejects`);
      expect(rejects.body.items).toEqual([expect.objectContaining({ code: 'suppressed', email: 'm***@example.com' })]);
      const delta = await app.waitForRun(await app.startRun(exportId));
      // The ledger no longer holds them: nothing to remove, nothing to add.
      expect(delta.totals).toMatchObject({ suppressed: 1, adds: 0, updates: 0, removes: 0, unchanged: 119 });
    }
    await expectHolders(setup, { iterable: false, brevo: false, omnisend: false });

    // Lifted, the person is an add again at every provider.
    expect((await app.api('DELETE', `privacy/suppressions/${encodeURIComponent(ERASED)}`)).status).toBe(204);
    expect((await app.api('DELETE', `privacy/suppressions/${encodeURIComponent(ERASED)}`)).status).toBe(404);
    for (const exportId of Object.values(setup.exports)) {
      const run = await app.waitForRun(await app.startRun(exportId));
      expect(run.totals).toMatchObject({ suppressed: 0, adds: 1, sent: 1 });
    }
    await expectHolders(setup, { iterable: true, brevo: true, omnisend: true });

    const audit = await app.api<{ items: { action: string; resourceType: string }[] }>('GET', 'audit?resourceType=erasure');
    expect(audit.body.items.map((entry) => entry.action)).toEqual(['erase']);
    const lifted = await app.api<{ items: { action: string; summary?: string }[] }>('GET', 'audit?resourceType=suppression');
    expect(JSON.stringify(lifted.body)).not.toContain('member7');
    expect(lifted.body.items.map((entry) => entry.action)).toEqual(['lift']);
  });

  it('with deleteAtProvider deletes the contact at Iterable and Brevo, and removes the tag at Omnisend, which documents no delete', async () => {
    const setup = await exportToAllThree('delete', 'Delete me');
    const erasure = await erase({ email: ERASED, deleteAtProvider: true });
    expect(erasure.status).toBe('succeeded');
    const byProvider = Object.fromEntries(erasure.targets.map((target) => [target.provider, target]));
    expect(byProvider).toMatchObject({
      iterable: { action: 'delete', status: 'deleted' },
      brevo: { action: 'delete', status: 'deleted' },
      omnisend: { action: 'remove', status: 'removed', detail: expect.stringContaining('Omnisend documents no API to delete a contact') },
    });
    expect(app.emulators.iterable.state.deletedUsers.has(ERASED)).toBe(true);
    expect(app.emulators.brevo.state.deletedContacts.has(ERASED)).toBe(true);
    await expectHolders(setup, { iterable: false, brevo: false, omnisend: false });
    const runs: RunResource[] = [];
    for (const exportId of Object.values(setup.exports)) runs.push(await app.waitForRun(await app.startRun(exportId)));
    expect(runs.map((run) => [run.status, run.totals.suppressed, run.totals.sent, run.totals.rejected])).toEqual([
      ['succeeded', 1, 0, 0],
      ['succeeded', 1, 0, 0],
      ['succeeded', 1, 0, 0],
    ]);
    expect(app.emulators.iterable.state.users.has(ERASED)).toBe(false);
  });

  it('refuses an address that is not one, and answers 404 for an erasure it does not know', async () => {
    expect((await app.api('POST', 'privacy/erasures', { json: { email: 'not-an-email' } })).status).toBe(400);
    expect((await app.api('POST', 'privacy/erasures', { json: { email: ERASED, extra: 1 } })).status).toBe(400);
    expect((await app.api('GET', 'privacy/erasures/er-unknown-000')).status).toBe(404);
    expect((await app.api('POST', 'privacy/erasures', { json: { email: ERASED }, principal: { name: 'c', roles: ['Contributor'] } })).status).toBe(403);
  });
});
