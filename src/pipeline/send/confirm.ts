// A delivered chunk: the records the provider refused are written as rejects (with deterministic
// keys, so a redelivery replaces rather than doubles them), then run-state confirms the chunk and
// counts it on the run. A reject marked `delivered` (a note: the record went without its phone) is
// listed like the others but counts as sent.
import type { AppContext } from '../../app/context';
import type { ChunkOperation, RecordReject } from '../../domain/provider';
import { PROVIDER_NOTE_CODES, UNDELIVERED_PROVIDER_CODES, type ChunkDoc } from '../../domain/run';
import { confirmChunk } from '../run-state';
import { chunkRejectKey, upsertRejects, type RejectOp, type RejectRecord } from '../store/rejects';

export async function confirmDelivered(
  context: AppContext,
  runId: string,
  chunk: ChunkDoc,
  operation: ChunkOperation,
  rejects: readonly RecordReject[],
): Promise<void> {
  const unique = new Map<string, RecordReject>();
  // One row per record and code; a record refused and noted keeps both rows, and counts as refused.
  for (const reject of rejects) unique.set(`${reject.email.trim().toLowerCase()}\n${rowCode(reject)}`, reject);
  const rows = [...unique.values()];
  await upsertRejects(context, runId, rejectRecords(chunk, operation, rows));
  const refused = new Set(rows.filter((reject) => reject.delivered !== true).map((reject) => reject.email.trim().toLowerCase()));
  const records = operation.kind === 'upsert' ? operation.records.length : operation.emails.length;
  await confirmChunk(context, runId, chunk.chunk, { records, rejected: refused.size });
}

const KNOWN_CODES: ReadonlySet<string> = new Set([...UNDELIVERED_PROVIDER_CODES, ...PROVIDER_NOTE_CODES]);

/** The adapter's code when it is one the API documents; any other refusal is `provider_rejected`. */
function rowCode(reject: RecordReject): string {
  if (KNOWN_CODES.has(reject.code)) return reject.code;
  return reject.delivered === true ? PROVIDER_NOTE_CODES[0] : UNDELIVERED_PROVIDER_CODES[0];
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
      code: rowCode(reject),
      reason: KNOWN_CODES.has(reject.code) ? reject.reason : `${reject.code}: ${reject.reason}`,
      target: chunk.targetKey,
      op,
    };
  });
}
