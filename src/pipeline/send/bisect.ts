// Bisecting a refused chunk: when the provider refuses a chunk's request as a whole with a
// permanent 4xx (one malformed record spoils the body), the chunk is delivered again in two halves,
// each half with the adapter's own state machine, and a refused half is halved again until the
// refused part is one record, which becomes a `provider_rejected` reject with the provider's
// message. Everything else is delivered and the chunk is confirmed once, at the end, with every
// part's rejects. One bad record in n costs at most 2 x ceil(log2 n) more requests. A refusal
// that is not about records (every record "bad": a list gone, a body the provider never takes)
// would cost 2 n: after `MAX_ISOLATED_RECORDS` refused records the chunk is given up instead.
//
// The split lives in the chunk's delivery state (saved through run-state between requests), so a
// crash or a redelivery goes on where it was; the chunk is counted only when it is confirmed.
// Without a split the state is the adapter's own, as it always was.
import { z } from 'zod';
import { recordRejectSchema, type ChunkOperation, type RecordReject } from '../../domain/provider';
import type { DeliveryState, ProviderAdapter } from '../../providers/types';
import type { DeliveryAction } from './policy';

/** The longest provider message kept as a reject's reason. */
const MAX_REASON_LENGTH = 500;
/** Records isolated as refused before the refusal is taken to be about the chunk, not its records. */
export const MAX_ISOLATED_RECORDS = 10;

const rangeSchema = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);
type Range = z.infer<typeof rangeSchema>;

const bisectSchema = z.object({
  bisect: z.object({
    /** The part being delivered now, records [start, end) of the chunk, and its adapter state. */
    range: rangeSchema,
    state: z.record(z.string(), z.unknown()),
    /** Parts still to deliver, the next one last. */
    pending: z.array(rangeSchema),
    /** Rejects of the parts delivered so far, as [record index, index into `reasons`] (reasons repeat). */
    rejected: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])),
    reasons: z.array(recordRejectSchema.omit({ email: true })),
    /** Records refused one by one so far. */
    isolated: z.number().int().nonnegative().default(0),
  }),
});
type Bisect = z.infer<typeof bisectSchema>['bisect'];

/** Where a chunk's delivery is: the whole chunk in one adapter state, or a split. */
export type ChunkProgress = { kind: 'whole'; state: DeliveryState } | { kind: 'bisect'; bisect: Bisect };

/** The next request: the (part of the) chunk and the adapter state to step. */
export interface ChunkRequest {
  operation: ChunkOperation;
  state: DeliveryState;
  records: number;
}

/** What a decision means for the split: go on with this progress, or confirm the chunk with these rejects. */
export type BisectMove =
  | { kind: 'progress'; progress: ChunkProgress }
  | { kind: 'confirm'; rejects: RecordReject[] }
  /** Too many records refused one by one: the refusal is about the chunk; give it up. */
  | { kind: 'fail-chunk'; reason: string };

export function readProgress(saved: string | undefined, operation: ChunkOperation, adapter: ProviderAdapter): ChunkProgress {
  if (saved === undefined) return { kind: 'whole', state: adapter.start(operation) };
  const state = JSON.parse(saved) as DeliveryState;
  const split = bisectSchema.safeParse(state);
  return split.success ? { kind: 'bisect', bisect: split.data.bisect } : { kind: 'whole', state };
}

/** The state as saved on the chunk. */
export function savedState(progress: ChunkProgress): DeliveryState {
  return progress.kind === 'whole' ? progress.state : { bisect: progress.bisect };
}

export function currentRequest(operation: ChunkOperation, progress: ChunkProgress): ChunkRequest {
  if (progress.kind === 'whole') return { operation, state: progress.state, records: recordCount(operation) };
  const [start, end] = progress.bisect.range;
  return { operation: slice(operation, start, end), state: progress.bisect.state, records: end - start };
}

/** The adapter's next state for the current request. */
export function withState(progress: ChunkProgress, state: DeliveryState): ChunkProgress {
  return progress.kind === 'whole' ? { kind: 'whole', state } : { kind: 'bisect', bisect: { ...progress.bisect, state } };
}

/**
 * What a decision about the current request means for the chunk: `confirm` once the last part is
 * delivered, `bisect` and `reject-record` move the split on; undefined for every other action.
 */
export function moveOn(
  action: DeliveryAction,
  operation: ChunkOperation,
  progress: ChunkProgress,
  rejects: readonly RecordReject[],
  adapter: ProviderAdapter,
): BisectMove | undefined {
  if (action.kind === 'confirm') {
    if (progress.kind === 'whole') return { kind: 'confirm', rejects: [...rejects] };
    return nextPart(operation, record(progress.bisect, operation, rejects), adapter);
  }
  if (action.kind === 'bisect') return { kind: 'progress', progress: { kind: 'bisect', bisect: split(operation, progress, adapter) } };
  if (action.kind === 'reject-record') {
    if (progress.kind === 'whole') return { kind: 'confirm', rejects: [{ email: emailAt(operation, 0), code: 'provider_rejected', reason: trim(action.reason) }] };
    const [start] = progress.bisect.range;
    const isolated = progress.bisect.isolated + 1;
    if (isolated > MAX_ISOLATED_RECORDS) {
      return { kind: 'fail-chunk', reason: `The provider refused more than ${MAX_ISOLATED_RECORDS} of this chunk's records one by one: ${trim(action.reason)}` };
    }
    const refused: RecordReject = { email: emailAt(operation, start), code: 'provider_rejected', reason: trim(action.reason) };
    return nextPart(operation, record({ ...progress.bisect, isolated }, operation, [refused]), adapter);
  }
  return undefined;
}

/** Halves the current part: the first half is delivered now, the second waits. */
function split(operation: ChunkOperation, progress: ChunkProgress, adapter: ProviderAdapter): Bisect {
  const base: Bisect =
    progress.kind === 'bisect' ? progress.bisect : { range: [0, recordCount(operation)], state: {}, pending: [], rejected: [], reasons: [], isolated: 0 };
  const [start, end] = base.range;
  const middle = start + Math.ceil((end - start) / 2);
  const range: Range = [start, middle];
  return { ...base, range, state: adapter.start(slice(operation, start, middle)), pending: [...base.pending, [middle, end]] };
}

/** Adds the current part's rejects (emails of that part) to the split. */
function record(bisect: Bisect, operation: ChunkOperation, rejects: readonly RecordReject[]): Bisect {
  const [start, end] = bisect.range;
  const indexOf = new Map<string, number>();
  for (let index = start; index < end; index += 1) indexOf.set(emailAt(operation, index).trim().toLowerCase(), index);
  const reasons = [...bisect.reasons];
  const rejected = [...bisect.rejected];
  for (const reject of rejects) {
    const index = indexOf.get(reject.email.trim().toLowerCase());
    if (index === undefined) continue;
    const { email: _email, ...reason } = reject;
    let reasonIndex = reasons.findIndex((known) => known.code === reason.code && known.reason === reason.reason && known.delivered === reason.delivered);
    if (reasonIndex < 0) reasonIndex = reasons.push(reason) - 1;
    rejected.push([index, reasonIndex]);
  }
  return { ...bisect, rejected, reasons };
}

/** The next waiting part, or the confirmation when none is left. */
function nextPart(operation: ChunkOperation, bisect: Bisect, adapter: ProviderAdapter): BisectMove {
  const pending = [...bisect.pending];
  const range = pending.pop();
  if (range === undefined) {
    const rejects = bisect.rejected.map(([index, reasonIndex]) => ({ email: emailAt(operation, index), ...bisect.reasons[reasonIndex]! }));
    return { kind: 'confirm', rejects };
  }
  const state = adapter.start(slice(operation, range[0], range[1]));
  return { kind: 'progress', progress: { kind: 'bisect', bisect: { ...bisect, range, state, pending } } };
}

function recordCount(operation: ChunkOperation): number {
  return operation.kind === 'upsert' ? operation.records.length : operation.emails.length;
}

function slice(operation: ChunkOperation, start: number, end: number): ChunkOperation {
  return operation.kind === 'upsert'
    ? { ...operation, records: operation.records.slice(start, end) }
    : { ...operation, emails: operation.emails.slice(start, end) };
}

function emailAt(operation: ChunkOperation, index: number): string {
  return operation.kind === 'upsert' ? operation.records[index]!.email : operation.emails[index]!;
}

function trim(reason: string): string {
  return reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason;
}
