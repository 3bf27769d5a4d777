import { afterEach, describe, expect, it } from 'vitest';
import { sendFunction } from '../../functions/send';
import { wrapQueue } from '../../src/app/definitions';
import { chunkMessageSchema } from '../../src/domain/run';
import { parseMessage } from '../../src/storage/queue-messages';
import { segmentCsv, startTestApp, type StartTestAppOptions, type TestApp } from '../support/app';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const people = (count: number) => Array.from({ length: count }, (_, i) => ({ id: `c${i}`, email: `f${i}@example.com`, firstName: `N${i}` }));

async function iterableExport(options: StartTestAppOptions, count: number) {
  app = await startTestApp(options);
  const connectionId = await app.createConnection('iterable');
  await app.uploadSegment('s', 'Faulty', segmentCsv(people(count)));
  const exportId = await app.createExport({ name: 'faults', connectionId, segmentIds: ['s'], mapping: { email: 'Email', firstName: 'FirstName' } });
  return { app, exportId, emails: people(count).map((p) => p.email).sort() };
}

describe('faults', () => {
  it('a sender that crashes after the provider accepted a chunk neither loses nor double-counts it', async () => {
    const crashed = new Set<string>();
    const crashing = sendFunction('iterable', {
      afterStep: ({ runId, chunk }) => {
        const key = `${runId}/${chunk}`;
        if (crashed.has(key)) return;
        crashed.add(key);
        throw new Error('simulated crash after the provider accepted the chunk');
      },
    });
    const { exportId, emails } = await iterableExport({ emulators: { rateScale: 20 }, replace: { 'send-iterable': crashing } }, 2500);
    const run = await app!.waitForRun(await app!.startRun(exportId));
    expect(crashed.size).toBe(3);
    expect(run.status).toBe('succeeded');
    expect(run.totals).toMatchObject({ adds: 2500, sent: 2500, rejected: 0, failed: 0 });
    expect(run.progress).toMatchObject({ chunksTotal: 3, chunksDone: 3, percent: 100 });
    const list = app!.emulators.iterable.listByName('Faulty')[0]!;
    expect(app!.emulators.iterable.listMembers(list.id).sort()).toEqual(emails);
    // Each chunk reached the provider twice (the crash, then the redelivery)…
    expect(app!.emulators.iterable.requests.counts.byRoute['POST /api/lists/subscribe']).toBe(6);
    // …and the ledger knows all of them: nothing to send the next time.
    const again = await app!.waitForRun(await app!.startRun(exportId));
    expect(again.totals).toMatchObject({ adds: 0, updates: 0, unchanged: 2500, sent: 0 });
  });

  it('20% provider 503s and a 429 storm still end succeeded with the right membership', async () => {
    // The first two answers are 503 whatever the timing, then one in five; the 429 storm begins
    // with the first subscribe request, so that it meets the sending however slow planning is.
    const { exportId, emails } = await iterableExport(
      { emulators: { rateScale: 40, faults: { serverErrorShare: 0.2, serverErrorStatus: 503, nextServerErrors: 2 } } },
      6000,
    );
    const runId = await app!.startRun(exportId);
    const subscribes = () => app!.emulators.iterable.requests.counts.byRoute['POST /api/lists/subscribe'] ?? 0;
    const deadline = Date.now() + 60_000;
    while (subscribes() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    app!.emulators.iterable.setFaults({ throttleForMs: 1500 });
    const run = await app!.waitForRun(runId, { timeoutInMs: 120_000 });
    expect(run.status).toBe('succeeded');
    expect(run.totals).toMatchObject({ adds: 6000, sent: 6000, failed: 0 });
    const counts = app!.emulators.iterable.requests.counts;
    expect(counts.status5xx).toBeGreaterThan(0);
    expect(counts.status429).toBeGreaterThan(0);
    const list = app!.emulators.iterable.listByName('Faulty')[0]!;
    expect(app!.emulators.iterable.listMembers(list.id).sort()).toEqual(emails);
  });

  it('a revoked key ends the run failed quickly with a clear reason', async () => {
    const { exportId } = await iterableExport({ emulators: { rateScale: 20 } }, 3000);
    const first = await app!.waitForRun(await app!.startRun(exportId));
    expect(first.status).toBe('succeeded');
    await app!.uploadSegment('s', 'Faulty', segmentCsv(people(3000).map((p) => ({ ...p, firstName: 'Changed' }))));
    app!.emulators.iterable.revokeKey(app!.emulators.iterable.apiKeys[0]!);
    const started = Date.now();
    const run = await app!.waitForRun(await app!.startRun(exportId));
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/API key/);
    expect(Date.now() - started).toBeLessThan(15_000);
    // One refusal per worker at most, not a retry storm.
    expect(app!.emulators.iterable.requests.counts.byStatus['401'] ?? 0).toBeLessThanOrEqual(3);
  });

  it('a chunk that exhausts its retries lands in the poison queue and the run ends partially_succeeded naming it', async () => {
    const sender = sendFunction('iterable');
    const poisoned = wrapQueue(sender, (handler) => async (message, context) => {
      if (parseMessage(chunkMessageSchema, message, sender.options.queueName).chunk === 1) throw new Error('this chunk always breaks the sender');
      await handler(message, context);
    });
    const { exportId } = await iterableExport({ emulators: { rateScale: 20 }, replace: { 'send-iterable': poisoned }, maxDequeueCount: 2 }, 2500);
    const run = await app!.waitForRun(await app!.startRun(exportId));
    expect(run.status).toBe('partially_succeeded');
    expect(run.totals).toMatchObject({ sent: 1500, failed: 1000 });
    expect(run.failedChunks).toEqual([expect.objectContaining({ chunk: 1, records: 1000, error: expect.stringMatching(/poison/) })]);
    expect(run.reason).toMatch(/1 chunk\(s\) failed/);
    // The failed chunk's members are not in the ledger: the next run sends exactly them.
    const next = await app!.waitForRun(await app!.startRun(exportId));
    expect(next).toMatchObject({ status: 'succeeded', totals: { adds: 1000, unchanged: 1500, sent: 1000 } });
    const list = app!.emulators.iterable.listByName('Faulty')[0]!;
    expect(app!.emulators.iterable.listMembers(list.id)).toHaveLength(2500);
  });

  it('cancelling mid-run stops sending', async () => {
    const { exportId } = await iterableExport({ emulators: { rateScale: 1 } }, 30_000);
    const runId = await app!.startRun(exportId);
    const deadline = Date.now() + 30_000;
    while (!(app!.emulators.iterable.requests.counts.byRoute['POST /api/lists/subscribe'] ?? 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const cancelled = await app!.api<{ status: string }>('POST', `runs/${runId}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.body.status).toBe('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sentAtCancel = app!.emulators.iterable.requests.counts.byRoute['POST /api/lists/subscribe'] ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(app!.emulators.iterable.requests.counts.byRoute['POST /api/lists/subscribe'] ?? 0).toBe(sentAtCancel);
    expect(sentAtCancel).toBeLessThan(30);
    const run = await app!.waitForRun(runId);
    expect(run.status).toBe('cancelled');
  });
});
