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
} from '../../../src/pipeline/run-state';
import { getChunkDoc, getRunDoc } from '../../../src/pipeline/store/runs-table';
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

describe('run state', () => {
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
