// The one writer of a run's state: its status, reason, counters and chunk bookkeeping, and each
// chunk's status and delivery progress. Every transition is a function here; each one updates the
// run (or the chunk and the run in one transaction), settles the run when that was the last
// piece of work, and releases what a finished run holds (the export's run slot, its segment
// versions). Nothing else writes a run document or a chunk row: see docs/architecture.md for the
// table of status x event -> function. Transitions take no abort signal on purpose: one that has
// begun runs to its end (update, settle, release) rather than stopping half-way.
import type { AppContext } from '../app/context';
import { countRecords, recordRunEnded } from '../app/telemetry';
import type { Export } from '../domain/export';
import type { ProviderName } from '../domain/provider';
import { emptyTotals, isTerminal, type ChunkDoc, type RunDoc, type RunMode, type RunStatus, type RunTrigger, type SafetyReport, type Totals } from '../domain/run';
import { getExport, replaceActiveRun } from '../exports/repository';
import { releaseSegmentVersion } from '../segments/versions';
import { forgetExport } from './forget';
import { notifyRunEnded } from './notify/enqueue';
import { enqueuePlan } from './queues';
import { deleteRunWebhookTokens, deleteWebhookToken, syncWebhookToken } from './webhooks';
import {
  createRunDoc,
  getRunDoc,
  replaceChunkDoc,
  replaceRunDoc,
  settleChunk,
  upsertChunkDocs,
  upsertRunIndex,
  type Versioned,
} from './store/runs-table';

/** How many failed chunks a run names (the rest are counted). */
export const MAX_FAILED_CHUNKS_LISTED = 20;

export interface CreateRunOptions {
  trigger: RunTrigger;
  mode: RunMode;
  dryRun: boolean;
  /** Run even when a safety threshold is exceeded. */
  confirmRemovals?: boolean;
  requestedBy: string;
  provider: ProviderName;
  /** `skipped` runs say why. */
  reason?: string;
}

/**
 * Creates the run document (`queued`, with its plan message, or `skipped`) and its history row.
 * A run id that exists already answers the existing run: creating is idempotent.
 */
export async function createRun(
  context: AppContext,
  exp: Export,
  runId: string,
  status: Extract<RunStatus, 'queued' | 'skipped'>,
  options: CreateRunOptions,
): Promise<RunDoc> {
  const now = context.now();
  const doc: RunDoc = {
    runId,
    exportId: exp.id,
    connectionId: exp.connectionId,
    provider: options.provider,
    trigger: options.trigger,
    mode: options.mode,
    dryRun: options.dryRun,
    confirmRemovals: options.confirmRemovals ?? false,
    status,
    reason: options.reason,
    requestedBy: options.requestedBy,
    createdAt: now.toISOString(),
    finishedAt: status === 'skipped' ? now.toISOString() : undefined,
    totals: emptyTotals(),
    chunksTotal: 0,
    planned: false,
    chunksConfirmed: 0,
    chunksFailed: 0,
    failedChunks: [],
    segmentVersions: {},
  };
  if (!(await createRunDoc(context, doc))) return (await getRunDoc(context, runId))?.value ?? doc;
  await upsertRunIndex(context, exp.id, now, runId);
  if (status === 'queued') await enqueuePlan(context, { runId });
  context.log.info('run created', { runId, exportId: exp.id, provider: options.provider, trigger: options.trigger, status, mode: options.mode, dryRun: options.dryRun });
  if (status === 'skipped') await runEnded(context, doc);
  return doc;
}

/** The planner took the run: `queued` -> `planning`, with the segment versions it pinned. Undefined when the run has ended. */
export async function beginPlanning(context: AppContext, runId: string, segmentVersions: Record<string, string>): Promise<RunDoc | undefined> {
  const result = await replaceRunDoc(context, runId, (doc) => {
    if (isTerminal(doc.status)) return undefined;
    doc.status = doc.status === 'queued' ? 'planning' : doc.status;
    doc.startedAt ??= context.now().toISOString();
    doc.segmentVersions = segmentVersions;
    return doc;
  });
  return result && !isTerminal(result.doc.status) ? result.doc : undefined;
}

export type PlannerTotals = Pick<Totals, 'profiles' | 'invalid' | 'duplicates' | 'adds' | 'updates' | 'removes' | 'unchanged'> & Partial<Pick<Totals, 'suppressed'>>;

/** Publishes the planner's totals so far; false when the run has ended meanwhile (stop planning). */
export async function reportPlanningProgress(context: AppContext, runId: string, totals: PlannerTotals, chunksWritten: number): Promise<boolean> {
  const result = await replaceRunDoc(context, runId, (doc) => {
    if (isTerminal(doc.status)) return undefined;
    doc.totals = { ...doc.totals, ...totals };
    doc.chunksTotal = Math.max(doc.chunksTotal, chunksWritten);
    return doc;
  });
  return result !== undefined && !isTerminal(result.doc.status);
}

/** Planning is complete: the run knows all its chunks and is `running` (or settled at once). */
export async function completePlanning(context: AppContext, runId: string, totals: PlannerTotals, chunksTotal: number, safety?: SafetyReport): Promise<void> {
  const result = await replaceRunDoc(context, runId, (doc) => {
    if (isTerminal(doc.status)) return undefined;
    doc.totals = { ...doc.totals, ...totals };
    doc.safety = safety ?? doc.safety;
    doc.chunksTotal = chunksTotal;
    doc.planned = true;
    doc.status = 'running';
    return settleIfComplete(doc, context.now());
  });
  if (result?.changed && isTerminal(result.doc.status)) {
    await releaseRun(context, result.doc);
    await runEnded(context, result.doc);
  }
}

/** The planner wrote these chunks (all `pending`); rows of an earlier attempt are replaced as they were. */
export async function addPlannedChunks(context: AppContext, runId: string, chunks: readonly ChunkDoc[]): Promise<void> {
  await upsertChunkDocs(context, runId, chunks);
}

/**
 * The safety check stopped the run before anything was written or sent: it ends `failed` with the
 * threshold as its reason and the counts that exceeded it.
 */
export async function stopBeforeSending(context: AppContext, runId: string, totals: Partial<PlannerTotals>, safety: SafetyReport, reason: string): Promise<void> {
  await replaceRunDoc(context, runId, (doc) => {
    if (isTerminal(doc.status)) return undefined;
    doc.totals = { ...doc.totals, ...totals };
    doc.safety = safety;
    return doc;
  });
  await finishRun(context, runId, 'failed', reason);
}

export interface ConfirmChunkCounts {
  /** Records the chunk carried. */
  records: number;
  /** Of those, the ones the provider refused. */
  rejected: number;
}

/**
 * The chunk was delivered: confirm it and count it on the run in one transaction, which only a
 * pending chunk passes, so a redelivered confirmation counts nothing.
 */
export async function confirmChunk(context: AppContext, runId: string, chunkNumber: number, counts: ConfirmChunkCounts): Promise<void> {
  const rejected = Math.min(counts.rejected, counts.records);
  const settled: { kind?: ChunkDoc['kind']; token?: string } = {};
  const run = await settleChunk(
    context,
    runId,
    chunkNumber,
    (chunk) => {
      settled.kind = chunk.kind;
      settled.token = chunk.webhookToken;
      return { ...chunk, status: 'confirmed', rejected, state: undefined };
    },
    (doc) => {
      doc.chunksConfirmed += 1;
      doc.totals.sent += counts.records - rejected;
      doc.totals.rejected += rejected;
      return settleIfComplete(doc, context.now());
    },
  );
  if (run) {
    countRecords(settled.kind === 'remove' ? 'removed' : 'sent', counts.records - rejected, run);
    countRecords('rejected', rejected, run);
  }
  if (run && settled.token) await forgetWebhookToken(context, settled.token);
  if (run && isTerminal(run.status)) {
    await releaseRun(context, run);
    await runEnded(context, run);
  }
}

/**
 * The chunk could not be delivered: count its records as failed and name it on the run. Nothing
 * happens to a chunk already settled, or once the run has ended.
 */
export async function failChunk(context: AppContext, runId: string, chunkNumber: number, error: string): Promise<void> {
  let token: string | undefined;
  const run = await settleChunk(
    context,
    runId,
    chunkNumber,
    (chunk) => {
      token = chunk.webhookToken;
      return { ...chunk, status: 'failed', lastError: error };
    },
    (doc, chunk) => {
      doc.chunksFailed += 1;
      doc.totals.failed += chunk.records;
      if (doc.failedChunks.length < MAX_FAILED_CHUNKS_LISTED) {
        doc.failedChunks.push({ chunk: chunk.chunk, targetKey: chunk.targetKey, records: chunk.records, error: error.slice(0, 300) });
      }
      return settleIfComplete(doc, context.now());
    },
    // A run that has ended (cancelled, failed) keeps the counts it ended with.
    { whileRunActive: true },
  );
  if (run) context.log.warn('chunk failed', { runId, exportId: run.exportId, provider: run.provider, chunk: chunkNumber, error });
  if (run && token) await forgetWebhookToken(context, token);
  if (run && isTerminal(run.status)) {
    await releaseRun(context, run);
    await runEnded(context, run);
  }
}

/**
 * A chunk's delivery is not over: keep its progress (the adapter's state, steps, the transient
 * failures in a row, the last error). Answers the saved chunk, or undefined when someone else moved
 * it on meanwhile (a duplicate message): that delivery then continues alone.
 */
export async function saveChunkProgress(context: AppContext, runId: string, chunk: Versioned<ChunkDoc>, progress: ChunkProgress): Promise<Versioned<ChunkDoc> | undefined> {
  const next: ChunkDoc = { ...chunk.value, ...progress };
  const etag = await replaceChunkDoc(context, runId, { value: next, etag: chunk.etag });
  if (etag === undefined) return undefined;
  await syncWebhookToken(context, next).catch((error: unknown) =>
    context.log.warn('could not follow a chunk with its webhook token; it expires in 24 h', { runId, chunk: next.chunk, error: error instanceof Error ? error : String(error) }),
  );
  return { value: next, etag };
}

export type ChunkProgress = Partial<Pick<ChunkDoc, 'state' | 'steps' | 'transientAttempts' | 'lastError'>>;

/** Stops every remaining chunk of a run from calling the provider (the key was refused). */
export async function abortRun(context: AppContext, runId: string, reason: string): Promise<void> {
  await replaceRunDoc(context, runId, (doc) => {
    if (doc.abortReason || isTerminal(doc.status)) return undefined;
    doc.abortReason = reason;
    return doc;
  });
}

/** Cancels a run that has not finished; answers the run as it is afterwards (undefined: no such run). */
export async function cancelRun(context: AppContext, runId: string, by: string): Promise<RunDoc | undefined> {
  return await finishRun(context, runId, 'cancelled', `Cancelled by ${by}`);
}

/**
 * Moves a run to a terminal status unless it already has one, then frees its export's slot and
 * its segment versions. Safe to repeat.
 */
export async function finishRun(context: AppContext, runId: string, status: RunStatus, reason?: string): Promise<RunDoc | undefined> {
  const result = await replaceRunDoc(context, runId, (doc) => {
    if (isTerminal(doc.status)) return undefined;
    doc.status = status;
    doc.reason = reason ?? doc.reason;
    doc.finishedAt = context.now().toISOString();
    return doc;
  });
  if (!result) return undefined;
  if (result.changed) {
    context.log.info('run finished', { runId, exportId: result.doc.exportId, provider: result.doc.provider, status: result.doc.status, reason: result.doc.reason });
  }
  await releaseRun(context, result.doc);
  if (result.changed) await runEnded(context, result.doc);
  return result.doc;
}

/**
 * An ended run seen again (a redelivered message of its last chunk): what must follow its end and
 * may have been lost to a crash right after the write that ended it — its notifications — is done
 * now if it was not (they are created once per run and event).
 */
export async function observeEndedRun(context: AppContext, doc: RunDoc): Promise<void> {
  if (isTerminal(doc.status)) await notifyRunEnded(context, doc);
}

/** What follows the one write that ended a run: its metrics and its notifications (neither can fail the run). */
async function runEnded(context: AppContext, doc: RunDoc): Promise<void> {
  recordRunEnded(doc, context.now());
  countRecords('suppressed', doc.totals.suppressed, doc);
  context.log.info('run ended', { runId: doc.runId, exportId: doc.exportId, provider: doc.provider, status: doc.status, reason: doc.reason });
  await notifyRunEnded(context, doc);
}

/** The terminal status of a fully settled run. */
export function settledStatus(doc: RunDoc): { status: RunStatus; reason?: string } {
  const { totals } = doc;
  if (doc.abortReason && totals.sent === 0) return { status: 'failed', reason: doc.abortReason };
  if (doc.chunksFailed > 0 && doc.chunksConfirmed === 0) {
    return { status: 'failed', reason: doc.abortReason ?? `No chunk could be delivered (${doc.chunksFailed} failed)` };
  }
  if (doc.chunksFailed > 0 || totals.rejected > 0 || doc.abortReason) {
    const parts = [
      doc.chunksFailed > 0 ? `${doc.chunksFailed} chunk(s) failed (${totals.failed} records)` : undefined,
      totals.rejected > 0 ? `${totals.rejected} record(s) rejected by the provider` : undefined,
      doc.abortReason,
    ].filter(Boolean);
    return { status: 'partially_succeeded', reason: parts.join('; ') };
  }
  return { status: 'succeeded' };
}

/** Applies the settled status when every chunk is settled and planning is complete. */
export function settleIfComplete(doc: RunDoc, now: Date): RunDoc {
  if (isTerminal(doc.status) || !doc.planned) return doc;
  if (doc.chunksConfirmed + doc.chunksFailed < doc.chunksTotal) return doc;
  const { status, reason } = settledStatus(doc);
  return { ...doc, status, reason, finishedAt: now.toISOString() };
}

/** A settled chunk's webhook token goes at once (best effort: tokens expire anyway). */
async function forgetWebhookToken(context: AppContext, token: string): Promise<void> {
  await deleteWebhookToken(context, token).catch((error: unknown) =>
    context.log.warn('could not delete a webhook token; it expires in 24 h', { error: error instanceof Error ? error : String(error) }),
  );
}

/**
 * Frees the export's slot, the run's segment versions and its webhook tokens (idempotent). The
 * successful cleanup run of an export being deleted with its members forgets the export.
 */
async function releaseRun(context: AppContext, doc: RunDoc): Promise<void> {
  if (doc.provider === 'brevo' && context.config.publicBaseUrl) {
    await deleteRunWebhookTokens(context, doc.runId).catch((error: unknown) =>
      context.log.warn('could not delete the webhook tokens of a finished run; they expire in 24 h', { runId: doc.runId, error: error instanceof Error ? error : String(error) }),
    );
  }
  for (let attempt = 0; attempt < 10; attempt++) {
    const stored = await getExport(context, doc.exportId);
    if (!stored || stored.activeRunId !== doc.runId) break;
    if (stored.deleting && doc.trigger === 'cleanup' && doc.status === 'succeeded') {
      await forgetExport(context, doc.exportId);
      context.log.info('export deleted after its members were removed', { exportId: doc.exportId, runId: doc.runId });
      break;
    }
    if (await replaceActiveRun(context, stored, undefined, context.now())) break;
  }
  await Promise.all(
    Object.entries(doc.segmentVersions).map(([segmentId, version]) =>
      releaseSegmentVersion(context, segmentId, version, doc.runId).catch((error: unknown) =>
        context.log.warn('could not release a segment version', { runId: doc.runId, segmentId, error: error instanceof Error ? error : String(error) }),
      ),
    ),
  );
}
