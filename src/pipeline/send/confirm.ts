// A delivered chunk: the records the provider refused are written as rejects (with deterministic
// keys, so a redelivery replaces rather than doubles them), then run-state confirms the chunk and
// counts it on the run.
import type { AppContext } from '../../app/context';
import type { ChunkOperation, RecordReject } from '../../domain/provider';
import type { ChunkDoc } from '../../domain/run';
import { confirmChunk } from '../run-state';
import { chunkRejectKey, upsertRejects, type RejectOp, type RejectRecord } from '../store/rejects';

export async function confirmDelivered(
  context: AppContext,
  runId: string,
  chunk: ChunkDoc,
  operation: ChunkOperation,
  rejects: readonly RecordReject[],
): Promise<void> {
  const unique = new Map(rejects.map((reject) => [reject.email.trim().toLowerCase(), reject]));
  await upsertRejects(context, runId, rejectRecords(chunk, operation, [...unique.values()]));
  const records = operation.kind === 'upsert' ? operation.records.length : operation.emails.length;
  await confirmChunk(context, runId, chunk.chunk, { records, rejected: unique.size });
}

/** Each refused record with the segment it came from and what it was (an add, an update, a removal). */
function rejectRecords(chunk: ChunkDoc, operation: ChunkOperation, rejects: readonly RecordReject[]): RejectRecord[] {
  const segmentOf = new Map<string, { segmentId?: string; isNew: boolean }>();
  if (operation.kind === 'upsert') for (const record of operation.records) segmentOf.set(record.email, record);
  return rejects.map((reject, index) => {
    const record = segmentOf.get(reject.email.trim().toLowerCase());
    const op: RejectOp = operation.kind === 'remove' ? 'remove' : record?.isNew === false ? 'update' : 'add';
    return {
      rowKey: chunkRejectKey(chunk.chunk, index),
      email: reject.email,
      segmentId: record?.segmentId ?? '',
      code: 'provider_rejected',
      reason: `${reject.code}: ${reject.reason}`,
      target: chunk.targetKey,
      op,
    };
  });
}
