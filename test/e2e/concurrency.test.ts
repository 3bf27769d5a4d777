import { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshTimer } from '../../functions/refresh-timer';
import type { RunResource } from '../../src/domain/run';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
let exportId: string;
beforeAll(async () => {
  // Real Iterable limits (5 requests/s): a 20,000-member run stays active for a few seconds.
  app = await startTestApp({ emulators: { rateScale: 1 } });
  const connectionId = await app.createConnection('iterable');
  await app.uploadSegment('big', 'Big', segmentCsv(Array.from({ length: 20_000 }, (_, i) => ({ id: `c${i}`, email: `b${i}@example.com` }))));
  exportId = await app.createExport({ name: 'big', connectionId, segmentIds: ['big'], mapping: { email: 'Email' } });
});
afterAll(async () => {
  await app?.close();
});

describe('one active run per export', () => {
  it('two on-demand requests at once create one run; the other gets 409 with the active runId', async () => {
    const [a, b] = await Promise.all([
      app.api<{ runId?: string; error?: { code: string; details: { runId: string } } }>('POST', `exports/${exportId}/runs`),
      app.api<{ runId?: string; error?: { code: string; details: { runId: string } } }>('POST', `exports/${exportId}/runs`),
    ]);
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    const accepted = a.status === 202 ? a : b;
    const refused = a.status === 202 ? b : a;
    expect(refused.body.error).toMatchObject({ code: 'run_in_progress', details: { runId: accepted.body.runId } });

    // A scheduled refresh during the active run records a skipped run with the reason.
    const refresh = await app.api<{ runs: RunResource[] }>('POST', 'refresh');
    expect(refresh.status).toBe(202);
    expect(refresh.body.runs).toEqual([expect.objectContaining({ exportId, status: 'skipped', reason: expect.stringContaining(accepted.body.runId!) })]);

    await app.api('POST', `runs/${accepted.body.runId}/cancel`);
    const history = await app.api<{ items: RunResource[] }>('GET', `exports/${exportId}/runs`);
    expect(history.body.items.map((run) => run.status)).toEqual(['skipped', 'cancelled']);
  });

  it('a timer tick delivered twice creates one run', async () => {
    const before = (await app.api<{ items: RunResource[] }>('GET', `exports/${exportId}/runs`)).body.items.length;
    const tick = () =>
      refreshTimer.options.handler(
        { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } },
        new InvocationContext({ functionName: 'refresh-timer' }),
      );
    await Promise.all([tick(), tick()]);
    await tick();
    const history = await app.api<{ items: RunResource[] }>('GET', `exports/${exportId}/runs`);
    expect(history.body.items.length - before).toBe(1);
    const scheduled = history.body.items[0]!;
    expect(scheduled).toMatchObject({ trigger: 'schedule' });
    expect(scheduled.runId).toMatch(/^sched-/);
    await app.api('POST', `runs/${scheduled.runId}/cancel`);
  });

  it('deleting an export cancels its active run and nothing more is sent', async () => {
    const connectionId = await app.createConnection('iterable');
    const doomed = await app.createExport({ name: 'doomed', connectionId, segmentIds: ['big'], mapping: { email: 'Email' } });
    const runId = await app.startRun(doomed);
    const subscribes = () => app.emulators.iterable.requests.counts.byRoute['POST /api/lists/subscribe'] ?? 0;
    const before = subscribes();
    const deadline = Date.now() + 20_000;
    while (subscribes() === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await app.api('DELETE', `exports/${doomed}`)).status).toBe(204);
    const run = await app.waitForRun(runId);
    expect(run).toMatchObject({ status: 'cancelled', reason: expect.stringMatching(/deleted/) });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const atCancel = subscribes();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(subscribes()).toBe(atCancel);
    expect(atCancel - before).toBeLessThan(20);
  });
});
