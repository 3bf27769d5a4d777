import { describe, expect, it } from 'vitest';
import type { Export } from '../../../src/domain/export';
import type { ChunkDoc } from '../../../src/domain/run';
import { createExportRow, getExport, replaceActiveRun } from '../../../src/exports/repository';
import {
  abortRun,
  addPlannedChunks,
  beginPlanning,
  cancelRun,
  completePlanning,
  confirmChunk,
  createRun,
  failChunk,
  reportPlanningProgress,
  settleIfComplete,
} from '../../../src/pipeline/run-state';
import { getChunkDoc, getRunDoc, settleChunk } from '../../../src/pipeline/store/runs-table';
import { createTestContext, type TestContext } from '../../support/context';

const exp: Export = {
  id: 'exp-state',
  name: 'state',
  connectionId: 'conn-1',
  segmentIds: ['s'],
  mapping: { email: 'Email' },
  options: {},
  createdAt: '2026-12-01T00:00:00.000Z',
  createdBy: 'oid-ada',
  updatedAt: '2026-12-01T00:00:00.000Z',
  updatedBy: 'oid-ada',
};
const totals = { profiles: 30, invalid: 0, duplicates: 0, adds: 30, updates: 0, removes: 0, unchanged: 0 };
const chunk = (n: number, records = 10): ChunkDoc => ({ chunk: n, targetKey: 't', kind: 'upsert', records, status: 'pending', payloadInline: '{}', steps: 0, rejected: 0 });

/** A planned run of three chunks of ten records, holding its export's run slot. */
async function plannedRun(context: TestContext, runId: string) {
  await createExportRow(context, exp).catch(() => undefined);
  const stored = (await getExport(context, exp.id))!;
  expect(await replaceActiveRun(context, stored, runId, context.now())).toBe(true);
  await createRun(context, exp, runId, 'queued', { trigger: 'on-demand', mode: 'delta', dryRun: false, requestedBy: 'oid-ada', provider: 'iterable' });
  expect(await beginPlanning(context, runId, { s: 'v1' })).toMatchObject({ status: 'planning' });
  await addPlannedChunks(context, runId, [chunk(0), chunk(1), chunk(2)]);
  await completePlanning(context, runId, totals, 3);
  return async () => (await getRunDoc(context, runId))!.value;
}

/** A planned run of `count` chunks of ten records. */
async function plannedRunOf(context: TestContext, runId: string, count: number) {
  await createRun(context, exp, runId, 'queued', { trigger: 'on-demand', mode: 'delta', dryRun: false, requestedBy: 'oid-ada', provider: 'iterable' });
  await beginPlanning(context, runId, { s: 'v1' });
  const chunks = Array.from({ length: count }, (_, n) => chunk(n));
  await addPlannedChunks(context, runId, chunks);
  await completePlanning(context, runId, { ...totals, profiles: count * 10, adds: count * 10 }, count);
  return chunks;
}

/** Counts the entity-group transactions the context's table clients submit (the real SDK clients, counted). */
function countTransactions(context: TestContext): { count: number } {
  const counter = { count: 0 };
  const table = context.storage.table.bind(context.storage);
  const counted = new WeakSet<object>();
  Object.assign(context.storage, {
    table(name: string) {
      // The storage clients hand out one client per table: count each once.
      const client = table(name);
      if (counted.has(client)) return client;
      counted.add(client);
      const submit = client.submitTransaction.bind(client);
      return Object.assign(client, {
        submitTransaction: (...args: Parameters<typeof submit>) => {
          counter.count += 1;
          return submit(...args);
        },
      });
    },
  });
  return counter;
}

const confirmSettle = (doc: ChunkDoc): ChunkDoc => ({ ...doc, status: 'confirmed' });

describe('run state', () => {
  it('settles chunks confirmed at the same time in a few transactions, each counted once, and ends the run for one caller', async () => {
    const context = await createTestContext();
    const chunks = await plannedRunOf(context, 'run-together', 150);
    const transactions = countTransactions(context);
    // Every chunk confirmed twice at once (a redelivery racing the first delivery).
    const results = await Promise.all(
      [...chunks, ...chunks].map((doc) =>
        settleChunk(context, 'run-together', doc.chunk, confirmSettle, (run, settled) => {
          run.chunksConfirmed += 1;
          run.totals.sent += settled.records;
          return settleIfComplete(run, context.now());
        }),
      ),
    );
    expect(results.filter((run) => run !== undefined)).toHaveLength(150);
    expect(results.filter((run) => run?.status === 'succeeded')).toHaveLength(1);
    // Each caller sees the run as its own change left it.
    expect(new Set(results.flatMap((run) => (run ? [run.chunksConfirmed] : []))).size).toBe(150);
    expect((await getRunDoc(context, 'run-together'))!.value).toMatchObject({ status: 'succeeded', chunksConfirmed: 150, totals: { sent: 1500 } });
    for (const doc of chunks) expect((await getChunkDoc(context, 'run-together', doc.chunk))!.value.status).toBe('confirmed');
    // 150 one by one took at least 150 (most of them conflicting and retried); together: the run row and 99 chunks at a time.
    expect(transactions.count).toBeLessThanOrEqual(6);
  });

  it('counts every chunk once when two instances settle the same run at the same time', async () => {
    const first = await createTestContext();
    const second = await createTestContext({ namespace: first.namespace });
    const chunks = await plannedRunOf(first, 'run-two', 60);
    await Promise.all(
      chunks.flatMap((doc) => [
        confirmChunk(first, 'run-two', doc.chunk, { records: 10, rejected: 0 }),
        confirmChunk(second, 'run-two', doc.chunk, { records: 10, rejected: 0 }),
      ]),
    );
    expect((await getRunDoc(first, 'run-two'))!.value).toMatchObject({ status: 'succeeded', chunksConfirmed: 60, totals: { sent: 600, rejected: 0 } });
  });

  it('counts a redelivered confirmation once, however many arrive at the same time', async () => {
    const context = await createTestContext();
    const run = await plannedRun(context, 'run-redelivered');
    await Promise.all([1, 2, 3, 4].map(() => confirmChunk(context, 'run-redelivered', 0, { records: 10, rejected: 2 })));
    await confirmChunk(context, 'run-redelivered', 0, { records: 10, rejected: 2 });
    expect(await run()).toMatchObject({ status: 'running', chunksConfirmed: 1, chunksFailed: 0, totals: { sent: 8, rejected: 2 } });
    expect((await getChunkDoc(context, 'run-redelivered', 0))?.value).toMatchObject({ status: 'confirmed', rejected: 2 });
  });

  it('settles the run with the last chunk and frees the export for the next run', async () => {
    const context = await createTestContext();
    const run = await plannedRun(context, 'run-settles');
    await confirmChunk(context, 'run-settles', 0, { records: 10, rejected: 0 });
    await confirmChunk(context, 'run-settles', 2, { records: 10, rejected: 0 });
    expect((await run()).status).toBe('running');
    expect((await getExport(context, exp.id))?.activeRunId).toBe('run-settles');
    await confirmChunk(context, 'run-settles', 1, { records: 10, rejected: 0 });
    expect(await run()).toMatchObject({ status: 'succeeded', chunksConfirmed: 3, totals: { sent: 30, failed: 0 }, finishedAt: expect.any(String) });
    expect((await getExport(context, exp.id))?.activeRunId).toBeUndefined();
  });

  it('ends partially_succeeded naming the failed chunk when one of them fails', async () => {
    const context = await createTestContext();
    const run = await plannedRun(context, 'run-partial');
    await confirmChunk(context, 'run-partial', 0, { records: 10, rejected: 0 });
    await confirmChunk(context, 'run-partial', 1, { records: 10, rejected: 0 });
    await failChunk(context, 'run-partial', 2, 'the provider refused it');
    await failChunk(context, 'run-partial', 2, 'the provider refused it');
    expect(await run()).toMatchObject({
      status: 'partially_succeeded',
      chunksFailed: 1,
      totals: { sent: 20, failed: 10 },
      failedChunks: [{ chunk: 2, targetKey: 't', records: 10, error: 'the provider refused it' }],
    });
  });

  it('changes nothing when a chunk fails after the run was cancelled', async () => {
    const context = await createTestContext();
    const run = await plannedRun(context, 'run-cancelled');
    await confirmChunk(context, 'run-cancelled', 0, { records: 10, rejected: 0 });
    await cancelRun(context, 'run-cancelled', 'Ada');
    const cancelled = await run();
    expect(cancelled).toMatchObject({ status: 'cancelled', reason: 'Cancelled by Ada' });
    await failChunk(context, 'run-cancelled', 1, 'went to the poison queue');
    expect(await run()).toEqual(cancelled);
    expect((await getChunkDoc(context, 'run-cancelled', 1))?.value.status).toBe('pending');
    expect(await reportPlanningProgress(context, 'run-cancelled', totals, 3)).toBe(false);
    expect((await getExport(context, exp.id))?.activeRunId).toBeUndefined();
  });

  it('fails every remaining chunk of an aborted run, and ends it failed when nothing was sent', async () => {
    const context = await createTestContext();
    const run = await plannedRun(context, 'run-aborted');
    await abortRun(context, 'run-aborted', 'The provider refused the key');
    await abortRun(context, 'run-aborted', 'a second reason is not recorded');
    for (const n of [0, 1, 2]) await failChunk(context, 'run-aborted', n, 'The provider refused the key');
    expect(await run()).toMatchObject({ status: 'failed', reason: 'The provider refused the key', chunksFailed: 3, totals: { sent: 0, failed: 30 } });
  });
});
