import { describe, expect, it } from 'vitest';
import { chunkDocSchema, emptyTotals, runDocSchema, type RunDoc } from '../../../src/domain/run';
import { toRunResource } from '../../../src/pipeline/resource';

const run = (failedChunks: unknown[]): unknown => ({
  runId: 'run-1',
  exportId: 'exp-1',
  provider: 'brevo',
  trigger: 'on-demand',
  mode: 'delta',
  dryRun: false,
  status: 'partially_succeeded',
  requestedBy: 'oid-ada',
  createdAt: '2026-11-23T02:00:00.000Z',
  totals: emptyTotals(),
  chunksTotal: 2,
  planned: true,
  chunksConfirmed: 1,
  chunksFailed: 1,
  failedChunks,
  segmentVersions: {},
});

describe("a chunk's target key", () => {
  it('is read from a chunk row stored before it was called targetKey', () => {
    const stored = { chunk: 0, target: 'brevo-7', kind: 'upsert', records: 1, status: 'pending', steps: 0, rejected: 0 };
    expect(chunkDocSchema.parse(stored)).toEqual({ chunk: 0, targetKey: 'brevo-7', kind: 'upsert', records: 1, status: 'pending', steps: 0, rejected: 0 });
  });

  it('is read from a failed chunk stored under either name, and the public run resource calls it target', () => {
    const failed = { chunk: 1, records: 10, error: 'refused' };
    const doc: RunDoc = runDocSchema.parse(run([{ ...failed, target: 'brevo-7' }, { ...failed, chunk: 2, targetKey: 'brevo-7' }]));
    expect(doc.failedChunks.map((chunk) => chunk.targetKey)).toEqual(['brevo-7', 'brevo-7']);
    expect(toRunResource(doc, new Date()).failedChunks).toEqual([
      { chunk: 1, target: 'brevo-7', records: 10, error: 'refused' },
      { chunk: 2, target: 'brevo-7', records: 10, error: 'refused' },
    ]);
  });
});
