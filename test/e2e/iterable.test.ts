import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ emulators: { rateScale: 20 } });
});
afterAll(async () => {
  await app?.close();
});

const members = (count: number, offset = 0) =>
  Array.from({ length: count }, (_, index) => ({
    id: `c${index + offset}`,
    email: `person${index + offset}@example.com`,
    firstName: `First${index + offset}`,
    lastName: 'Lee',
    city: 'London',
  }));

describe('Iterable export end to end', () => {
  it('delivers the segment, sends nothing the second time, then only the difference', async () => {
    const connectionId = await app.createConnection('iterable');
    const base = members(2500);
    const invalid = { id: 'bad', email: 'not-an-email' };
    await app.uploadSegment('vip', 'VIP', segmentCsv([...base, invalid, { id: 'dup', email: 'PERSON1@example.com' }]));
    const exportId = await app.createExport({
      name: 'VIP to Iterable',
      connectionId,
      segmentIds: ['vip'],
      mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName', city: 'City' },
    });

    const first = await app.waitForRun(await app.startRun(exportId));
    expect(first.status).toBe('succeeded');
    expect(first.totals).toMatchObject({ profiles: 2502, invalid: 1, duplicates: 1, adds: 2500, updates: 0, removes: 0, sent: 2500 });
    const list = app.emulators.iterable.listByName('VIP')[0]!;
    expect(app.emulators.iterable.listMembers(list.id).sort()).toEqual(base.map((m) => m.email).sort());
    expect(app.emulators.iterable.state.users.get('person7@example.com')).toMatchObject({ firstName: 'First7', lastName: 'Lee', city: 'London' });

    const requestsBefore = app.emulators.iterable.requests.counts.total;
    const second = await app.waitForRun(await app.startRun(exportId));
    expect(second.status).toBe('succeeded');
    expect(second.totals).toMatchObject({ adds: 0, updates: 0, removes: 0, unchanged: 2500, sent: 0 });
    // Only the list lookup of the planner: no subscribe or unsubscribe call.
    const calls = app.emulators.iterable.requests.entries().filter((request) => request.seq > requestsBefore).map((request) => request.route);
    expect(calls.filter((route) => route !== 'GET /api/lists')).toEqual([]);

    // 100 leave, 50 change their first name, 200 join.
    const changed = base.slice(100).map((m, index) => (index < 50 ? { ...m, firstName: `Renamed${index}` } : m));
    await app.uploadSegment('vip', 'VIP', segmentCsv([...changed, ...members(200, 10_000)]));
    const third = await app.waitForRun(await app.startRun(exportId));
    expect(third.status).toBe('succeeded');
    expect(third.totals).toMatchObject({ adds: 200, updates: 50, removes: 100, sent: 350 });
    const expected = [...changed, ...members(200, 10_000)].map((m) => m.email).sort();
    expect(app.emulators.iterable.listMembers(list.id).sort()).toEqual(expected);
    expect(app.emulators.iterable.state.users.get('person100@example.com')).toMatchObject({ firstName: 'Renamed0' });
    expect(app.emulators.iterable.state.globalUnsubscribes.size).toBe(0);

    // Two runs later nothing reads the first run's chunks any more: their records are gone.
    const chunks = app.context.storage.container(app.context.storage.names.containers.chunks);
    const left = async (runId: string) => {
      let count = 0;
      for await (const _blob of chunks.listBlobsFlat({ prefix: `${runId}/` })) count++;
      return count;
    };
    expect(await left(first.runId)).toBe(0);
    expect(await left(third.runId)).toBeGreaterThan(0);

    const rejects = await app.api<{ items: { email: string; code: string }[] }>('GET', `runs/${first.runId}/rejects`);
    expect(rejects.body.items.map((item) => item.code).sort()).toEqual(['duplicate', 'invalid_email']);
  });

  it('a dry run computes the totals and sends nothing; mode=full resends everything present', async () => {
    const connectionId = await app.createConnection('iterable');
    await app.uploadSegment('trial', 'Trial', segmentCsv(members(1200, 50_000)));
    const exportId = await app.createExport({ name: 'trial', connectionId, segmentIds: ['trial'], mapping: { email: 'Email', city: 'City' } });
    const subscribes = () => app.emulators.iterable.requests.counts.byRoute['POST /api/lists/subscribe'] ?? 0;

    const before = subscribes();
    const dry = await app.waitForRun(await app.startRun(exportId, 'dryRun=true'));
    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, totals: { adds: 1200, sent: 0 }, progress: { chunksTotal: 0 } });
    expect(subscribes()).toBe(before);

    const real = await app.waitForRun(await app.startRun(exportId));
    expect(real.totals).toMatchObject({ adds: 1200, sent: 1200 });

    const full = await app.waitForRun(await app.startRun(exportId, 'mode=full'));
    expect(full).toMatchObject({ mode: 'full', status: 'succeeded', totals: { adds: 0, updates: 1200, unchanged: 0, sent: 1200 } });
    const delta = await app.waitForRun(await app.startRun(exportId));
    expect(delta.totals).toMatchObject({ updates: 0, unchanged: 1200, sent: 0 });
  });
});
