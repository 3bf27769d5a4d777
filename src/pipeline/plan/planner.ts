// The planner (queue-triggered), as orchestration: it gathers what the run needs (the export, the
// provider account, the pinned segment versions, the prepared targets), plans each target (see
// `target-planner.ts`) and hands the totals to the run. Chunks are enqueued as they are written,
// so delivery starts while planning goes on. Everything it reads is fixed for the run (pinned
// segment versions, the ledger of the previous run), so a redelivered plan message plans the same
// chunks again and skips the ones that exist.
import type { AppContext } from '../../app/context';
import type { OperationOptions } from '../../app/operation';
import type { Export } from '../../domain/export';
import { isTerminal, type ChunkStatus, type RunDoc } from '../../domain/run';
import type { Segment } from '../../domain/segment';
import { Errors, isAppError } from '../../errors';
import { getExport } from '../../exports/repository';
import { isProviderErrorKind } from '../../providers/errors';
import { requireSegment } from '../../segments/repository';
import { acquireCurrentSegmentVersion, acquireSegmentVersion } from '../../segments/versions';
import { getGovernor, requireProviderAccount, type ProviderAccount } from '../accounts';
import { EventLoopPace } from '../pacing';
import { beginPlanning, completePlanning, finishRun } from '../run-state';
import { PlannerRejects } from '../store/rejects';
import { getRunDoc, listChunkDocs } from '../store/runs-table';
import { newWebhookToken } from '../webhooks';
import { ChunkWriter } from './chunker';
import { commitSnapshot } from './ledger';
import { emptyPlannerTotals, ProgressReporter, RunStopped } from './progress';
import { TargetPlanner, type PlanningSession } from './target-planner';
import { prepareTargets, targetSpecs, type TargetPlan } from './targets';

interface PlanInputs {
  run: RunDoc;
  exp: Export;
  account: ProviderAccount;
  segments: Map<string, Segment>;
  targets: TargetPlan[];
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

export async function planRun(context: AppContext, runId: string, options: OperationOptions = {}): Promise<void> {
  let inputs: PlanInputs | undefined;
  try {
    inputs = await gatherInputs(context, runId, options);
  } catch (error) {
    if (!(error instanceof Unplannable)) throw error;
    await finishRun(context, runId, error.status, error.message);
    return;
  }
  if (!inputs) return;
  const log = context.log.child({ runId, exportId: inputs.exp.id, provider: inputs.run.provider });
  log.info('planning', { targets: inputs.targets.length, mode: inputs.run.mode, dryRun: inputs.run.dryRun });
  try {
    await planTargets(context, inputs, options);
  } catch (error) {
    if (!(error instanceof RunStopped)) throw error;
    log.info('planning stopped: the run ended meanwhile');
  }
}

/** The run's inputs, or undefined when the run has ended; throws `Unplannable` for a run that cannot go on. */
async function gatherInputs(context: AppContext, runId: string, options: OperationOptions): Promise<PlanInputs | undefined> {
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
  const segments = await pinSegments(context, run, exp, { abortSignal }).catch((error: unknown) => {
    throw isAppError(error, Errors.notFound) ? new Unplannable('failed', error.message) : error;
  });
  const started = await beginPlanning(context, runId, Object.fromEntries([...segments].map(([id, segment]) => [id, segment.version])));
  if (!started) return undefined;
  const targets = await prepareTargets(account, getGovernor(context), targetSpecs(exp, account.adapter.provider, segments), { abortSignal }).catch((error: unknown) => {
    if (isProviderErrorKind(error, 'auth')) throw new Unplannable('failed', `The provider refused the connection's API key: ${error.message}`);
    if (isProviderErrorKind(error, 'permanent')) throw new Unplannable('failed', `The destination is not usable: ${error.message}`);
    throw error;
  });
  return { run: started, exp, account, segments, targets };
}

async function pinSegments(context: AppContext, run: RunDoc, exp: Export, options: OperationOptions): Promise<Map<string, Segment>> {
  const { abortSignal } = options;
  const segments = new Map<string, Segment>();
  for (const segmentId of exp.segmentIds) {
    const pinned = run.segmentVersions[segmentId];
    if (pinned) {
      // A re-planned run reads the version it pinned, with that version's own fields.
      const info = await acquireSegmentVersion(context, segmentId, pinned, run.runId, { abortSignal });
      const current = await requireSegment(context, segmentId, { abortSignal });
      segments.set(segmentId, { ...current, version: info.version, fields: info.fields, keyField: info.keyField, memberCount: info.memberCount });
    } else {
      segments.set(segmentId, await acquireCurrentSegmentVersion(context, segmentId, run.runId, { abortSignal }));
    }
  }
  return segments;
}

async function planTargets(context: AppContext, inputs: PlanInputs, options: OperationOptions): Promise<void> {
  const { abortSignal } = options;
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
  const session: PlanningSession = { context, run, exp, segments, totals, writer, rejects, progress, pace: new EventLoopPace(), abortSignal };
  try {
    for (const [targetIndex, target] of targets.entries()) await TargetPlanner.plan(session, target, targetIndex);
  } catch (error) {
    rejects.abort();
    throw error;
  }
  await rejects.close();
  const chunksTotal = run.dryRun ? 0 : await writer.finish();
  if (!run.dryRun) for (const target of targets) await commitSnapshot(context, exp.id, target.key, runId);
  await completePlanning(context, runId, totals, chunksTotal);
  context.log.info('planned', { runId, exportId: exp.id, chunks: chunksTotal, ...totals });
}
