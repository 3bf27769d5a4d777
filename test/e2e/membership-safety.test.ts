import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResource } from '../../src/domain/run';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

// The first rule of the product, end to end through the local host, Azurite and the emulators:
// no consent status changed for a contact the provider already has, nothing removed that the
// export did not add, and a run that looks like an accident stops before it sends.
let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ emulators: { rateScale: 50 } });
});
afterAll(async () => {
  await app?.close();
});

const person = (index: number, prefix = 'm', firstName = `F${index}`) => ({ id: `${prefix}${index}`, email: `${prefix}${index}@example.com`, firstName });
const people = (from: number, to: number, prefix = 'm') => Array.from({ length: to - from }, (_, i) => person(from + i, prefix));
const emails = (list: readonly { email: string }[]) => list.map((member) => member.email).sort();
const MAPPING = { email: 'Email', firstName: 'FirstName' };

async function run(exportId: string, query = ''): Promise<RunResource> {
  return await app.waitForRun(await app.startRun(exportId, query), { timeoutInMs: 90_000 });
}

describe('Omnisend consent', () => {
  it("leaves a subscribed customer's email and SMS status alone through first, delta and full runs, and creates unknown contacts nonSubscribed", async () => {
    const omnisend = app.emulators.omnisend;
    omnisend.seedContacts([{ email: 'fan@example.com', status: 'subscribed', phone: '+447911123456', smsStatus: 'subscribed' }]);
    const csv = (firstName: string) =>
      `CustomerId,Email,FirstName,Phone,Country\nc1,fan@example.com,${firstName},+447911123456,GB\nc2,newcomer@example.com,Nia,+447911123457,GB\n`;
    await app.uploadSegment('consent', 'Consent', csv('Fay'));
    const connectionId = await app.createConnection('omnisend');
    const exportId = await app.createExport({
      name: 'consent',
      connectionId,
      segmentIds: ['consent'],
      mapping: { ...MAPPING, phone: 'Phone', countryRegion: 'Country' },
    });

    const first = await run(exportId);
    expect(first).toMatchObject({ status: 'succeeded', totals: { adds: 2, sent: 2 } });
    await app.uploadSegment('consent', 'Consent', csv('Faye'));
    expect(await run(exportId)).toMatchObject({ status: 'succeeded', totals: { updates: 1, sent: 1 } });
    expect(await run(exportId, 'mode=full')).toMatchObject({ status: 'succeeded', totals: { updates: 2, sent: 2 } });
    await omnisend.settled();

    expect(omnisend.contactStatuses('fan@example.com')).toEqual({ email: 'subscribed', phone: '+447911123456', sms: 'subscribed' });
    expect(omnisend.contactStatuses('newcomer@example.com')).toEqual({ email: 'nonSubscribed', phone: '+447911123457', sms: 'nonSubscribed' });
    expect(omnisend.contact('fan@example.com')).toMatchObject({ firstName: 'Faye', tags: ['Consent'] });
    expect(omnisend.state.counters).toMatchObject({ statusChanges: 0, welcomeMessages: 0, defaultedStatuses: 0 });
  });
});

describe('the mapping guard', () => {
  it('refuses an upload that lacks a mapped column, and fails a forced one before it sends or removes anything', async () => {
    const iterable = app.emulators.iterable;
    const members = people(0, 40, 'g');
    await app.uploadSegment('guarded', 'Guarded', segmentCsv(members));
    const connectionId = await app.createConnection('iterable');
    const exportId = await app.createExport({ name: 'guarded', connectionId, segmentIds: ['guarded'], mapping: MAPPING });
    expect(await run(exportId)).toMatchObject({ status: 'succeeded', totals: { adds: 40 } });
    const before = (await app.api<{ version: string }>('GET', 'segments/guarded')).body.version;

    const renamed = segmentCsv(members).replace('CustomerId,Email,', 'CustomerId,E-mail,');
    const refused = await app.api<{ error: { code: string; details: { missingFields: string[]; exportIds: string[] } } }>('PUT', 'segments/guarded?name=Guarded', {
      body: renamed,
      contentType: 'text/csv',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'mapping_field_missing', details: { missingFields: ['Email'], exportIds: [exportId] } });
    expect((await app.api<{ version: string }>('GET', 'segments/guarded')).body.version).toBe(before);

    const forced = await app.api('PUT', 'segments/guarded?name=Guarded&force=true', { body: renamed, contentType: 'text/csv' });
    expect(forced.status).toBe(200);
    const failed = await run(exportId);
    expect(failed.status).toBe('failed');
    expect(failed.reason).toMatch(/^mapping_field_missing: segment 'guarded' lacks 'Email'/);
    expect(failed.totals).toMatchObject({ removes: 0, sent: 0 });
    expect(iterable.listMembers(iterable.listByName('Guarded')[0]!.id).sort()).toEqual(emails(members));
  });
});

describe('the removal threshold', () => {
  it('stops a run that would remove 90% of the list, and removes exactly the leavers once confirmed', async () => {
    const brevo = app.emulators.brevo;
    const listId = brevo.createList('Shrinking');
    const all = people(0, 1000, 's');
    await app.uploadSegment('shrinking', 'Shrinking', segmentCsv(all));
    const connectionId = await app.createConnection('brevo');
    const exportId = await app.createExport({ name: 'shrinking', connectionId, segmentIds: ['shrinking'], mapping: MAPPING, options: { listId } });
    expect(await run(exportId)).toMatchObject({ status: 'succeeded', totals: { adds: 1000 } });

    const kept = all.slice(0, 100);
    await app.uploadSegment('shrinking', 'Shrinking', segmentCsv(kept));
    const dry = await run(exportId, 'dryRun=true');
    expect(dry).toMatchObject({ status: 'succeeded', totals: { removes: 900, sent: 0 }, safety: { removes: 900, held: 1000, stoppedBy: 'removal_threshold_exceeded' } });
    const stopped = await run(exportId);
    expect(stopped).toMatchObject({ status: 'failed', totals: { removes: 900, sent: 0 }, safety: { stoppedBy: 'removal_threshold_exceeded', confirmed: false } });
    expect(stopped.reason).toMatch(/^removal_threshold_exceeded: 900 of the 1000 members/);
    expect(brevo.listMembers(listId)).toHaveLength(1000);

    const confirmed = await run(exportId, 'confirmRemovals=true');
    expect(confirmed).toMatchObject({ status: 'succeeded', totals: { removes: 900, sent: 900 } });
    expect(brevo.listMembers(listId).sort()).toEqual(emails(kept));
  });

  it('stops a run whose emails are mostly invalid', async () => {
    const broken = people(0, 200, 'i').map((member, index) => (index < 150 ? { ...member, email: `not-an-email-${index}` } : member));
    await app.uploadSegment('broken', 'Broken', segmentCsv(broken));
    const connectionId = await app.createConnection('iterable');
    const exportId = await app.createExport({ name: 'broken', connectionId, segmentIds: ['broken'], mapping: MAPPING });
    const stopped = await run(exportId);
    expect(stopped).toMatchObject({ status: 'failed', totals: { invalid: 150, sent: 0 }, safety: { stoppedBy: 'invalid_threshold_exceeded' } });
    expect(app.emulators.iterable.listByName('Broken')).toEqual([]);
  });
});

describe('foreign members', () => {
  it('keeps the members a Brevo list, an adopted Iterable list and an Omnisend tag had before the export, and removes only its own', async () => {
    const { brevo, iterable, omnisend } = app.emulators;
    const foreign = people(0, 5, 'f');
    const ours = people(0, 20, 'o');
    const both = [...foreign.slice(0, 2), ...ours];
    await app.uploadSegment('Mixed', 'Mixed', segmentCsv(both));

    const listId = brevo.createList('Existing');
    brevo.seedListMembers(listId, emails(foreign));
    const iterableList = iterable.createList('Mixed');
    iterable.seedListMembers(iterableList, emails(foreign));
    omnisend.seedContacts(foreign.map((member) => ({ email: member.email, status: 'subscribed', tags: ['Mixed'] })));

    const exports = {
      brevo: await app.createExport({ name: 'mixed brevo', connectionId: await app.createConnection('brevo'), segmentIds: ['Mixed'], mapping: MAPPING, options: { listId } }),
      iterable: await app.createExport({ name: 'mixed iterable', connectionId: await app.createConnection('iterable'), segmentIds: ['Mixed'], mapping: MAPPING }),
      omnisend: await app.createExport({ name: 'mixed omnisend', connectionId: await app.createConnection('omnisend'), segmentIds: ['Mixed'], mapping: MAPPING }),
    };
    for (const exportId of Object.values(exports)) {
      // The two foreign members in the segment are updates, not adds.
      expect(await run(exportId)).toMatchObject({ status: 'succeeded', totals: { adds: 20, updates: 2 } });
    }

    // Everyone leaves but ten of ours: the foreign members stay, ours go.
    await app.uploadSegment('Mixed', 'Mixed', segmentCsv(ours.slice(0, 10)));
    for (const exportId of Object.values(exports)) {
      expect(await run(exportId, 'confirmRemovals=true')).toMatchObject({ status: 'succeeded', totals: { removes: 10 } });
    }
    await omnisend.settled();
    const expected = emails([...foreign, ...ours.slice(0, 10)]);
    expect(brevo.listMembers(listId).sort()).toEqual(expected);
    expect(iterable.listMembers(iterableList).sort()).toEqual(expected);
    expect(omnisend.tagMembers('Mixed').sort()).toEqual(expected);
    expect(iterable.listByName('Mixed')).toHaveLength(1);
  });
});

describe('target lifecycle', () => {
  it('moves the members of a renamed segment, empties the target of a segment taken out, and removes its members when deleted with removeMembers', async () => {
    const iterable = app.emulators.iterable;
    const foreign = people(0, 3, 'x');
    const listOf = (name: string) => iterable.listByName(name)[0]!.id;
    const adopted = iterable.createList('Alpha');
    iterable.seedListMembers(adopted, emails(foreign));
    await app.uploadSegment('alpha', 'Alpha', segmentCsv(people(0, 30, 'a')));
    await app.uploadSegment('beta', 'Beta', segmentCsv(people(0, 20, 'b')));
    const exportId = await app.createExport({ name: 'lifecycle', connectionId: await app.createConnection('iterable'), segmentIds: ['alpha', 'beta'], mapping: MAPPING });
    expect(await run(exportId)).toMatchObject({ status: 'succeeded', totals: { adds: 50 } });

    // A renamed segment: a cleanup run empties the old list (its foreign members stay), the next run fills the new one.
    await app.uploadSegment('alpha', 'Alpha renamed', segmentCsv(people(0, 30, 'a')));
    const runs = (await app.api<{ items: RunResource[] }>('GET', `exports/${exportId}/runs`)).body.items;
    const cleanup = runs.find((item) => item.trigger === 'cleanup')!;
    expect(await app.waitForRun(cleanup.runId)).toMatchObject({ status: 'succeeded', totals: { removes: 30, adds: 0 } });
    expect(iterable.listMembers(adopted).sort()).toEqual(emails(foreign));
    expect(await run(exportId)).toMatchObject({ status: 'succeeded', totals: { adds: 30 } });
    expect(iterable.listMembers(listOf('Alpha renamed')).sort()).toEqual(emails(people(0, 30, 'a')));

    // A segment taken out of the export: its list loses the members the export added.
    const patched = await app.api<{ activeRunId?: string }>('PATCH', `exports/${exportId}`, { json: { segmentIds: ['alpha'] } });
    expect(patched.status).toBe(200);
    expect(await app.waitForRun(patched.body.activeRunId!)).toMatchObject({ status: 'succeeded', trigger: 'cleanup', totals: { removes: 20 } });
    expect(iterable.listMembers(listOf('Beta'))).toEqual([]);

    // Deleted with its members: the remaining list is emptied, then the export is gone.
    const deleted = await app.api<{ runId: string }>('DELETE', `exports/${exportId}?removeMembers=true`);
    expect(deleted.status).toBe(202);
    expect(await app.waitForRun(deleted.body.runId)).toMatchObject({ status: 'succeeded', trigger: 'cleanup', totals: { removes: 30 } });
    expect(iterable.listMembers(listOf('Alpha renamed'))).toEqual([]);
    expect(iterable.listMembers(adopted).sort()).toEqual(emails(foreign));
    expect((await app.api('GET', `exports/${exportId}`)).status).toBe(404);
  });
});
