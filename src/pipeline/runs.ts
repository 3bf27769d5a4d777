// Starting runs. The export row holds the one active run of an export (`activeRunId`, changed
// under its ETag), so two requests at once create one run; a scheduled tick has a deterministic
// run id, so a tick that fires twice creates one run; a busy export answers `run_in_progress` on
// demand and records a `skipped` run on schedule.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { getConnection } from '../connections/repository';
import type { Export } from '../domain/export';
import type { ProviderName } from '../domain/provider';
import { isTerminal, type RunDoc, type RunMode, type RunTrigger } from '../domain/run';
import { Errors } from '../errors';
import { getExport, replaceActiveRun, type StoredExport } from '../exports/repository';
import { createRun, finishRun } from './run-state';
import { getRunDoc } from './store/runs-table';

export const STALE_QUEUED_RUN_IN_MS = 30 * 60 * 1000;
const MISSING_RUN_GRACE_IN_MS = 60 * 1000;
const MAX_SLOT_ATTEMPTS = 20;

export interface StartRunOptions extends OperationOptions {
  trigger: RunTrigger;
  mode: RunMode;
  dryRun: boolean;
  /** Run even when a safety threshold is exceeded (`?confirmRemovals=true`). */
  confirmRemovals?: boolean;
  /** The user id of whoever asked (or `schedule`). */
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

export async function startRun(context: AppContext, exportId: string, options: StartRunOptions): Promise<RunDoc> {
  const { abortSignal } = options;
  const now = context.now();
  const runId = options.runId ?? newRunId(now);
  if (options.runId) {
    const existing = await getRunDoc(context, runId, { abortSignal });
    if (existing) return existing.value;
  }
  for (let attempt = 0; attempt < MAX_SLOT_ATTEMPTS; attempt++) {
    const stored = await getExport(context, exportId, { abortSignal });
    if (!stored) throw Errors.notFound('Export', exportId);
    const busyWith = await activeRunOf(context, stored, { abortSignal });
    if (busyWith === runId) return await create(context, stored.export, runId, options);
    if (busyWith) {
      if (options.trigger === 'on-demand') throw Errors.runInProgress(busyWith, { details: { runId: busyWith } });
      return await create(context, stored.export, runId, options, `Another run of this export (${busyWith}) was still active`);
    }
    if (await replaceActiveRun(context, stored, runId, now, { abortSignal })) return await create(context, stored.export, runId, options);
  }
  throw Errors.conflict('The export changed repeatedly while starting a run; try again');
}

async function create(context: AppContext, exp: Export, runId: string, options: StartRunOptions, skippedBecause?: string): Promise<RunDoc> {
  const provider = await providerOf(context, exp, { abortSignal: options.abortSignal });
  const { trigger, mode, dryRun, confirmRemovals, requestedBy } = options;
  const status = skippedBecause ? 'skipped' : 'queued';
  return await createRun(context, exp, runId, status, { trigger, mode, dryRun, confirmRemovals, requestedBy, provider, reason: skippedBecause });
}

/** The export's active run, or undefined when the slot is free (or held by a finished or lost run). */
async function activeRunOf(context: AppContext, stored: StoredExport, options: OperationOptions): Promise<string | undefined> {
  const runId = stored.activeRunId;
  if (!runId) return undefined;
  const run = await getRunDoc(context, runId, options);
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

async function providerOf(context: AppContext, exp: Export, options: OperationOptions): Promise<ProviderName> {
  const stored = await getConnection(context, exp.connectionId, options);
  if (!stored) throw Errors.conflict(`The export's connection '${exp.connectionId}' no longer exists`);
  return stored.connection.provider;
}
