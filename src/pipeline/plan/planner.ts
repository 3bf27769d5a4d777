// The planner (queue-triggered), as orchestration: it gathers what the run needs (the export, the
// provider account, the pinned segment versions), runs the safety survey, prepares the targets at
// the provider only when the run may go on, plans each target (see `target-planner.ts`) and hands
// the totals to the run. Chunks are enqueued as they are written, so delivery starts while planning
// goes on. Everything it reads is fixed for the run (pinned segment versions, the ledger of the
// previous run), so a redelivered plan message plans the same chunks again and skips the ones that
// exist.
import type { AppContext } from '../../app/context';
import { annotateSpan } from '../../app/telemetry';
import type { OperationOptions } from '../../app/operation';
import { missingMappedFields, safetyOf, type Export } from '../../domain/export';
import { isTerminal, type ChunkStatus, type RunDoc, type SafetyReport } from '../../domain/run';
import type { Segment } from '../../domain/segment';
import { Errors, isAppError } from '../../errors';
import { getExport } from '../../exports/repository';
import { isProviderErrorKind } from '../../providers/errors';
import { requireSegment } from '../../segments/repository';
import { acquireCurrentSegmentVersion, acquireSegmentVersion } from '../../segments/versions';
import { getGovernor, requireProviderAccount, type ProviderAccount } from '../accounts';
import { EventLoopPace } from '../pacing';
import { enqueuePlan } from '../queues';
import { beginPlanning, completePlanning, finishRun, stopBeforeSending } from '../run-state';
import { PlannerRejects } from '../store/rejects';
import { getRunDoc, listChunkDocs } from '../store/runs-table';
import { newWebhookToken } from '../webhooks';
import { loadSuppressions } from '../../privacy/suppressions';
import { ChunkWriter } from './chunker';
import { ContactExistence, ListingUnfinished } from './directory';
import { commitSnapshot, listLedgerTargets, retireLedgerTarget } from './ledger';
import { needsSurvey, safetyVerdict, survey, type SafetyStop, type SurveyCounts } from './safety';
import { emptyPlannerTotals, ProgressReporter, RunStopped } from './progress';
import { TargetPlanner, type PlanningSession, type TargetOutcome } from './target-planner';
import { prepareTargets, retiredTargets, targetSpecs, type TargetPlan, type TargetSpecPlan } from './targets';

interface PlanInputs {
  run: RunDoc;
  exp: Export;
  account: ProviderAccount;
  segments: Map<string, Segment>;
  /** The targets the export feeds, then those it no longer feeds (retired). */
  targets: TargetPlan[];
}

/** The inputs before the provider is asked anything: the targets the export feeds are not prepared yet. */
interface GatheredInputs extends Omit<PlanInputs, 'targets'> {
  specs: TargetSpecPlan[];
  retired: TargetPlan[];
}

/** A reason the run cannot be planned: it fails (or is cancelled) with it. */
class Unplannable extends Error {
  constructor(
    readonly status: 'failed' | 'cancelled',
    message: string,
  ) {
    super(message);
  }
}

const LISTING_CONTINUE_DELAY_IN_MS = 1_000;

export async function planRun(context: AppContext, runId: string, options: OperationOptions = {}): Promise<void> {
  const { abortSignal } = options;
  let inputs: GatheredInputs | undefined;
  try {
    inputs = await gatherInputs(context, runId, options);
  } catch (error) {
    if (!(error instanceof Unplannable)) throw error;
    await finishRun(context, runId, error.status, error.message);
    return;
  }
  if (!inputs) return;
  annotateSpan({ runId, exportId: inputs.exp.id, provider: inputs.run.provider });
  const log = context.log.child({ runId, exportId: inputs.exp.id, provider: inputs.run.provider });
  log.info('planning', { targets: inputs.specs.length + inputs.retired.length, mode: inputs.run.mode, dryRun: inputs.run.dryRun });
  try {
    await planWithSafety(context, inputs, abortSignal);
  } catch (error) {
    if (error instanceof Unplannable) {
      await finishRun(context, runId, error.status, error.message);
      return;
    }
    if (error instanceof ListingUnfinished) {
      log.info('contact listing continues in the next invocation', { detail: error.message });
      await enqueuePlan(context, { runId }, { visibilityDelayInSeconds: LISTING_CONTINUE_DELAY_IN_MS / 1000 });
      return;
    }
    if (!(error instanceof RunStopped)) throw error;
    log.info('planning stopped: the run ended meanwhile');
  }
}

/** The run's inputs, or undefined when the run has ended; throws `Unplannable` for a run that cannot go on. */
async function gatherInputs(context: AppContext, runId: string, options: OperationOptions): Promise<GatheredInputs | undefined> {
  const { abortSignal } = options;
  const loaded = await getRunDoc(context, runId, { abortSignal });
  if (!loaded || isTerminal(loaded.value.status)) return undefined;
  const run = loaded.value;
  const stored = await getExport(context, run.exportId, { abortSignal });
  if (!stored) throw new Unplannable('cancelled', 'The export was deleted');
  const exp = stored.export;
  const account = await requireProviderAccount(context, exp.connectionId, { abortSignal, fresh: true }).catch((error: unknown) => {
    throw isAppError(error, Errors.notFound) ? new Unplannable('failed', `The export's connection '${exp.connectionId}' no longer exists`) : error;
  });
  // An export being deleted with its members feeds nothing: every target it knows is retired. A
  // cleanup run (saving an export sends nothing new) only removes: from the targets it no longer
  // feeds, and from the ones it does the members its remaining segments do not have (Brevo's union).
  const segments = stored.deleting ? new Map<string, Segment>() : await pinSegments(context, run, exp, { abortSignal });
  checkMapping(exp, segments);
  const started = await beginPlanning(context, runId, Object.fromEntries([...segments].map(([id, segment]) => [id, segment.version])));
  if (!started) return undefined;
  const removalsOnly = run.trigger === 'cleanup';
  const specs = (stored.deleting ? [] : targetSpecs(exp, account.adapter.provider, segments)).map((spec) => ({ ...spec, removalsOnly }));
  const retired = retiredTargets(await listLedgerTargets(context, exp.id), specs);
  return { run: started, exp, account, segments, specs, retired };
}

/** Asks the provider for the targets (Iterable creates a missing list): only once the run may go on. */
async function prepare(context: AppContext, account: ProviderAccount, specs: readonly TargetSpecPlan[], abortSignal?: AbortSignal): Promise<TargetPlan[]> {
  return await prepareTargets(account, getGovernor(context), specs, { abortSignal }).catch((error: unknown) => {
    if (isProviderErrorKind(error, 'auth')) throw new Unplannable('failed', `The provider refused the connection's API key: ${error.message}`);
    if (isProviderErrorKind(error, 'permanent')) throw new Unplannable('failed', `The destination is not usable: ${error.message}`);
    throw error;
  });
}

async function pinSegments(context: AppContext, run: RunDoc, exp: Export, options: OperationOptions): Promise<Map<string, Segment>> {
  const { abortSignal } = options;
  const segments = new Map<string, Segment>();
  for (const segmentId of exp.segmentIds) {
    const pinned = run.segmentVersions[segmentId];
    try {
      if (pinned) {
        // A re-planned run reads the version it pinned, with that version's own fields.
        const info = await acquireSegmentVersion(context, segmentId, pinned, run.runId, { abortSignal });
        const current = await requireSegment(context, segmentId, { abortSignal });
        segments.set(segmentId, { ...current, version: info.version, fields: info.fields, keyField: info.keyField, memberCount: info.memberCount });
      } else {
        segments.set(segmentId, await acquireCurrentSegmentVersion(context, segmentId, run.runId, { abortSignal }));
      }
    } catch (error) {
      throw isAppError(error, Errors.notFound) ? new Unplannable('failed', error.message) : error;
    }
  }
  return segments;
}

/** A pinned version without a mapped field (a forced upload, a source) would read every member as invalid: the run fails before it sends. */
function checkMapping(exp: Export, segments: ReadonlyMap<string, Segment>): void {
  const missing = missingMappedFields(exp.mapping, [...segments.values()]);
  if (missing.length === 0) return;
  const list = missing.map(({ segmentId, fields }) => `segment '${segmentId}' lacks ${fields.map((field) => `'${field}'`).join(', ')}`).join('; ');
  throw new Unplannable('failed', `mapping_field_missing: ${list}; nothing was sent or removed`);
}

/** The survey (when a threshold is on), the stop or the report, then the plan itself. */
async function planWithSafety(context: AppContext, gathered: GatheredInputs, abortSignal?: AbortSignal): Promise<void> {
  const { run, exp, account, segments, specs, retired } = gathered;
  const pace = new EventLoopPace();
  const counts = needsSurvey(run, exp) ? await survey({ context, run, exp, segments, pace, abortSignal }, specs) : undefined;
  const stoppedBy = counts ? safetyVerdict(counts, safetyOf(exp.options)) : undefined;
  const safety: SafetyReport | undefined = counts && {
    removes: counts.removes,
    held: counts.held,
    invalid: counts.invalid,
    profiles: counts.profiles,
    confirmed: run.confirmRemovals,
    ...(stoppedBy ? { stoppedBy } : {}),
  };
  if (counts && stoppedBy && safety && !run.dryRun && !run.confirmRemovals) {
    const reason = `${stoppedBy}: ${describeStop(stoppedBy, counts, safetyOf(exp.options))}; nothing was sent. Run it with confirmRemovals=true if this is intended`;
    await stopBeforeSending(context, run.runId, { profiles: counts.profiles, invalid: counts.invalid, removes: counts.removes }, safety, reason);
    return;
  }
  const targets = [...(await prepare(context, account, specs, abortSignal)), ...retired];
  const expectedAdds = counts?.adds ?? [...segments.values()].reduce((sum, segment) => sum + segment.memberCount, 0);
  const existence = await ContactExistence.prepare(context, run, account, expectedAdds, abortSignal);
  await planTargets(context, { run, exp, account, segments, targets }, { pace, existence, safety }, abortSignal);
}

function describeStop(stoppedBy: SafetyStop, counts: SurveyCounts, thresholds: ReturnType<typeof safetyOf>): string {
  const percent = (part: number, whole: number) => `${Math.round((part / whole) * 1000) / 10}%`;
  if (stoppedBy === 'invalid_threshold_exceeded') {
    return `${counts.invalid} of ${counts.profiles} profiles (${percent(counts.invalid, counts.profiles)}) have no valid email; the limit is ${percent(thresholds.maxInvalidShare ?? 1, 1)}`;
  }
  return `${counts.removes} of the ${counts.held} members this export holds at a target (${percent(counts.removes, counts.held)}) would be removed; the limit is ${percent(thresholds.maxRemoveShare ?? 1, 1)}`;
}

interface PlanExtras {
  pace: EventLoopPace;
  existence: ContactExistence | undefined;
  safety: SafetyReport | undefined;
}

async function planTargets(context: AppContext, inputs: PlanInputs, extras: PlanExtras, abortSignal?: AbortSignal): Promise<void> {
  const { run, exp, account, segments, targets } = inputs;
  const { runId } = run;
  const existing = new Map<number, ChunkStatus>();
  for await (const chunk of listChunkDocs(context, runId, { abortSignal })) existing.set(chunk.chunk, chunk.status);
  const totals = emptyPlannerTotals();
  const writer = new ChunkWriter(context, runId, {
    provider: account.adapter.provider,
    limits: account.adapter.chunkLimits,
    existing,
    webhookToken: account.adapter.provider === 'brevo' && context.config.publicBaseUrl ? newWebhookToken : undefined,
  });
  const rejects = new PlannerRejects(context, runId);
  const progress = new ProgressReporter(context, runId, totals, () => writer.chunksWritten);
  const suppressions = await loadSuppressions(context, { abortSignal });
  const session: PlanningSession = { context, run, exp, account, segments, totals, writer, rejects, progress, pace: extras.pace, existence: extras.existence, suppressions, abortSignal };
  const outcomes: TargetOutcome[] = [];
  try {
    for (const [targetIndex, target] of targets.entries()) outcomes.push(await TargetPlanner.plan(session, target, targetIndex));
  } catch (error) {
    rejects.abort();
    throw error;
  }
  await rejects.close();
  const chunksTotal = run.dryRun ? 0 : await writer.finish();
  if (!run.dryRun) await commitTargets(context, exp, runId, targets, outcomes);
  await completePlanning(context, runId, totals, chunksTotal, extras.safety);
  context.log.info('planned', { runId, exportId: exp.id, chunks: chunksTotal, ...totals, lookups: extras.existence?.lookups, listingPages: extras.existence?.listingPages });
}

/** Each target's new snapshot becomes current; a retired target with nothing left to remove is forgotten. */
async function commitTargets(context: AppContext, exp: Export, runId: string, targets: readonly TargetPlan[], outcomes: readonly TargetOutcome[]): Promise<void> {
  for (const [index, target] of targets.entries()) {
    if (target.retired && outcomes[index]!.removes === 0) await retireLedgerTarget(context, exp.id, target.key);
    else await commitSnapshot(context, exp.id, target.key, runId, target.target, { members: outcomes[index]!.members });
  }
}
