import { afterEach, describe, expect, it } from 'vitest';
import { sendFunction } from '../../functions/send';
import { segmentCsv, startTestApp, type StartTestAppOptions, type TestApp } from '../support/app';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

// Our planner takes `!` in the local part (RFC 5322 allows it); Iterable's own client refuses the
// address, and the emulator, held to that client's request schema, refuses the whole request.
const POISON = 'poison!@example.com';
const people = (count: number) => Array.from({ length: count }, (_, i) => ({ id: `c${i}`, email: `b${i}@example.com`, firstName: `N${i}` }));

async function poisonedExport(options: StartTestAppOptions) {
  app = await startTestApp(options);
  const connectionId = await app.createConnection('iterable');
  const members = people(999);
  members.splice(617, 0, { id: 'poison', email: POISON, firstName: 'Bad' });
  await app.uploadSegment('s', 'Poisoned', segmentCsv(members));
  const exportId = await app.createExport({ name: 'bisect', connectionId, segmentIds: ['s'], mapping: { email: 'Email', firstName: 'FirstName' } });
  return { app, exportId, good: people(999).map((p) => p.email).sort() };
}

function subscribeRequests(test: TestApp): number {
  return test.emulators.iterable.requests.counts.byRoute['POST /api/lists/subscribe'] ?? 0;
}

describe('bisecting a chunk the provider refuses as a whole', () => {
  it('delivers 999 of a chunk of 1,000 with one poisoned record, rejects that one, within 20 extra requests', async () => {
    const { exportId, good } = await poisonedExport({ emulators: { rateScale: 40 } });
    const run = await app!.waitForRun(await app!.startRun(exportId));
    expect(run.progress).toMatchObject({ chunksTotal: 1, chunksDone: 1 });
    expect(run.status).toBe('partially_succeeded');
    expect(run.totals).toMatchObject({ adds: 1000, sent: 999, rejected: 1, failed: 0 });
    const iterable = app!.emulators.iterable;
    const list = iterable.listByName('Poisoned')[0]!;
    expect(iterable.listMembers(list.id).sort()).toEqual(good);
    // The refused request, then 2 x ceil(log2 1000) = 20 at most.
    expect(subscribeRequests(app!) - 1).toBeLessThanOrEqual(20);
    expect(iterable.requests.counts.byStatus[400]).toBeGreaterThan(0);
    const rejects = await app!.api<{ items: Array<{ email: string; code: string; reason: string; segmentId: string }> }>('GET', `runs/${run.runId}/rejects`);
    expect(rejects.body.items).toEqual([
      { email: POISON, segmentId: 's', code: 'provider_rejected', reason: expect.stringMatching(/HTTP 400 BadParams.*subscribers\.0\.email/) as string },
    ]);

    // The rejected record is not in the ledger: the next run offers it again, and only it.
    const again = await app!.waitForRun(await app!.startRun(exportId));
    expect(again.totals).toMatchObject({ adds: 1, unchanged: 999, sent: 0, rejected: 1 });
  });

  it('goes on with the split after a crash and counts the chunk exactly once', async () => {
    let steps = 0;
    const crashed: number[] = [];
    const crashing = sendFunction('iterable', {
      afterStep: () => {
        steps += 1;
        // Crash after some parts were delivered, before their progress is kept.
        if (steps === 4 || steps === 9) {
          crashed.push(steps);
          throw new Error('simulated crash in the middle of a bisect');
        }
      },
    });
    const { exportId, good } = await poisonedExport({ emulators: { rateScale: 40 }, replace: { 'send-iterable': crashing } });
    const run = await app!.waitForRun(await app!.startRun(exportId));
    expect(crashed).toEqual([4, 9]);
    expect(run.totals).toMatchObject({ adds: 1000, sent: 999, rejected: 1, failed: 0 });
    expect(run.progress).toMatchObject({ chunksTotal: 1, chunksDone: 1 });
    const iterable = app!.emulators.iterable;
    expect(iterable.listMembers(iterable.listByName('Poisoned')[0]!.id).sort()).toEqual(good);
    // A crash repeats at most the part it was in: still near the bound.
    expect(subscribeRequests(app!) - 1).toBeLessThanOrEqual(22);
    const rejects = await app!.api<{ items: Array<{ email: string }> }>('GET', `runs/${run.runId}/rejects`);
    expect(rejects.body.items.map((item) => item.email)).toEqual([POISON]);
  });
});
