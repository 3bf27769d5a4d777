import { randomBytes } from 'node:crypto';
import type { AppContext } from '../app/context';
import { readConnection } from '../connections/repository';
import type { Export } from '../domain/export';
import { emptyTotals, isTerminal, type RunDoc, type RunMode, type RunStatus, type RunTrigger } from '../domain/run';
import { AppError, Errors } from '../errors';
import { readExport, setActiveRun, type StoredExport } from '../exports/repository';
import type { ProviderName } from '../providers/types';
import { releaseSegmentVersion } from '../segments/versions';
import { sendMessage } from '../storage/queue-messages';
import { getRunDoc, insertRunDoc, insertRunIndex, updateRunDoc } from './store/runs-table';

/**
 * Run creation, cancellation and the end of a run. The export row holds the one active run of an
 * export (`activeRunId`, changed under its ETag), so two requests at once create one run; a
 * scheduled tick has a deterministic run id, so a tick that fires twice creates one run.
 */
export const STALE_QUEUED_RUN_IN_MS = 30 * 60 * 1000;
const MISSING_RUN_GRACE_IN_MS = 60 * 1000;

export interface StartRunOptions {
  trigger: RunTrigger;
  mode: RunMode;
  dryRun: boolean;
  requestedBy: string;
  /** Scheduled runs pass the id derived from the schedule occurrence. */
  runId?: string;
}

export function newRunId(now: Date): string {
  return `run-${now.getTime().toString(36)}-${randomBytes(5).toString('hex')}`;
}

/** The run id of export `exportId` for the schedule occurrence at `occurrence`. */
export function scheduledRunId(exportId: string, occurrence: Date): string {
  return `sched-${occurrence.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${exportId}`;
}

export class RunInProgressError extends AppError {
  constructor(readonly activeRunId: string) {
    const base = Errors.runInProgress(activeRunId);
    super(base.code, base.status, base.message, { details: { runId: activeRunId } });
  }
}

/**
 * Starts a run of an export: on demand, a busy export answers `run_in_progress`; on schedule it
 * records a `skipped` run with the reason.
 */
export async function startRun(context: AppContext, exportId: string, options: StartRunOptions): Promise<RunDoc> {
  const now = context.now();
  const runId = options.runId ?? newRunId(now);
  if (options.runId) {
    const existing = await getRunDoc(context, runId);
    if (existing) return existing.value;
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    const stored = await readExport(context, exportId);
    if (!stored) throw Errors.notFound('Export', exportId);
    const busyWith = await activeRunOf(context, stored);
    if (busyWith === runId) return await createRunDoc(context, stored.export, runId, 'queued', options);
    if (busyWith) {
      if (options.trigger === 'on-demand') throw new RunInProgressError(busyWith);
      return await createRunDoc(context, stored.export, runId, 'skipped', options, `Another run of this export (${busyWith}) was still active`);
    }
    if (await setActiveRun(context, stored, runId, now)) {
      return await createRunDoc(context, stored.export, runId, 'queued', options);
    }
  }
  throw Errors.conflict('The export changed repeatedly while starting a run; try again');
}

/** The export's active run, or undefined when the slot is free (or held by a finished or lost run). */
async function activeRunOf(context: AppContext, stored: StoredExport): Promise<string | undefined> {
  const runId = stored.activeRunId;
  if (!runId) return undefined;
  const run = await getRunDoc(context, runId);
  const since = stored.activeRunSince ? Date.parse(stored.activeRunSince) : 0;
  const now = context.now().getTime();
  if (!run) return now - since > MISSING_RUN_GRACE_IN_MS ? undefined : runId;
  if (isTerminal(run.value.status)) return undefined;
  if (run.value.status === 'queued' && now - Date.parse(run.value.createdAt) > STALE_QUEUED_RUN_IN_MS) {
    await finishRun(context, runId, 'failed', 'The run was never picked up by the planner');
    return undefined;
  }
  return runId;
}

async function createRunDoc(
  context: AppContext,
  exp: Export,
  runId: string,
  status: Extract<RunStatus, 'queued' | 'skipped'>,
  options: StartRunOptions,
  reason?: string,
): Promise<RunDoc> {
  const now = context.now();
  const provider = await providerOf(context, exp);
  const doc: RunDoc = {
    runId,
    exportId: exp.id,
    connectionId: exp.connectionId,
    provider,
    trigger: options.trigger,
    mode: options.mode,
    dryRun: options.dryRun,
    status,
    reason,
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
  const created = await insertRunDoc(context, doc);
  if (!created) return (await getRunDoc(context, runId))?.value ?? doc;
  await insertRunIndex(context, exp.id, now, runId);
  if (status === 'queued') {
    await sendMessage(context.storage.queue(context.storage.names.queues.plan), { runId });
  }
  context.log.info('run created', { runId, exportId: exp.id, trigger: options.trigger, status, mode: options.mode, dryRun: options.dryRun });
  return doc;
}

async function providerOf(context: AppContext, exp: Export): Promise<ProviderName> {
  const stored = await readConnection(context, exp.connectionId);
  if (!stored) throw Errors.conflict(`The export's connection '${exp.connectionId}' no longer exists`);
  return stored.connection.provider;
}

/** Cancels a run that has not finished; answers the run as it is afterwards. */
export async function cancelRun(context: AppContext, runId: string, by: string): Promise<RunDoc> {
  const doc = await finishRun(context, runId, 'cancelled', `Cancelled by ${by}`);
  if (!doc) throw Errors.notFound('Run', runId);
  return doc;
}

/**
 * Moves a run to a terminal status unless it already has one, then frees its export's slot and
 * its segment versions. Safe to repeat.
 */
export async function finishRun(context: AppContext, runId: string, status: RunStatus, reason?: string): Promise<RunDoc | undefined> {
  const result = await updateRunDoc(context, runId, (doc) => {
    if (isTerminal(doc.status)) return undefined;
    doc.status = status;
    doc.reason = reason ?? doc.reason;
    doc.finishedAt = context.now().toISOString();
    return doc;
  });
  if (!result) return undefined;
  if (result.changed) {
    context.log.info('run finished', { runId, exportId: result.doc.exportId, status: result.doc.status, reason: result.doc.reason });
  }
  await releaseRun(context, result.doc);
  return result.doc;
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

/** Frees the export's slot and the run's segment versions (idempotent). */
export async function releaseRun(context: AppContext, doc: RunDoc): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const stored = await readExport(context, doc.exportId);
    if (!stored || stored.activeRunId !== doc.runId) break;
    if (await setActiveRun(context, stored, undefined, context.now())) break;
  }
  await Promise.all(
    Object.entries(doc.segmentVersions).map(([segmentId, version]) =>
      releaseSegmentVersion(context, segmentId, version, doc.runId).catch((error: unknown) =>
        context.log.warn('could not release a segment version', { runId: doc.runId, segmentId, error: error instanceof Error ? error : String(error) }),
      ),
    ),
  );
}
