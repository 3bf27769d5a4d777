import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../../app/context';
import { getConnectionForUse } from '../../connections/service';
import type { Export } from '../../domain/export';
import { isTerminal, type ChunkStatus, type RunDoc, type Totals } from '../../domain/run';
import type { Segment } from '../../domain/segment';
import { isAppError, Errors } from '../../errors';
import { readExport } from '../../exports/repository';
import { isProviderErrorKind } from '../../providers/errors';
import type { GovernorAccount, RateGovernor } from '../../providers/governor';
import { BUCKETS } from '../../providers/limits';
import type { ProviderAdapter, TargetSpec } from '../../providers/types';
import { readSegmentBatches } from '../../segments/reader';
import { getSegment } from '../../segments/repository';
import { acquireCurrentSegmentVersion, acquireSegmentVersion } from '../../segments/versions';
import { ChunkWriter, type PlannedTarget } from './chunker';
import { normalizeEmail } from './email';
import { hash53, hashEmail } from './hash';
import { HashIndex } from './hash-index';
import { commitSnapshot, FLAG_SEEN, FLAG_STALE, loadLedger, scanSnapshot, SnapshotWriter } from './ledger';
import { finishRun, releaseRun, settleIfComplete } from '../run-state';
import { mapFields, mappedFieldsHash } from './mapping';
import { adapterFor, governorAccount, governorFor, newWebhookToken } from '../accounts';
import { PlannerRejects } from '../store/rejects';
import { getRunDoc, listChunkDocs, updateRunDoc } from '../store/runs-table';

/**
 * The planner (queue-triggered): streams the pinned version of each segment, normalises and
 * validates emails, drops duplicates, applies the mapping, compares with each target's ledger and
 * writes provider-sized chunks of adds/updates and removes. Chunks are enqueued as they are
 * written, so delivery starts while planning goes on. Everything it reads is fixed for the run
 * (pinned segment versions, the ledger of the previous run), so a redelivered plan message plans
 * the same chunks again and skips the ones that exist.
 */
const PROGRESS_INTERVAL_IN_MS = 2_000;
const PACE_SLICE_IN_MS = 5;

interface TargetPlan extends PlannedTarget {
  spec: TargetSpec;
  segmentIds: string[];
}

type PlannerTotals = Pick<Totals, 'profiles' | 'invalid' | 'duplicates' | 'adds' | 'updates' | 'removes' | 'unchanged'>;

class RunStopped extends Error {}

export async function planRun(context: AppContext, runId: string, abortSignal?: AbortSignal): Promise<void> {
  const loaded = await getRunDoc(context, runId, abortSignal);
  if (!loaded || isTerminal(loaded.value.status)) return;
  const run = loaded.value;
  const log = context.log.child({ runId, exportId: run.exportId, provider: run.provider });
  const stored = await readExport(context, run.exportId, abortSignal);
  if (!stored) {
    await finishRun(context, runId, 'cancelled', 'The export was deleted');
    return;
  }
  const exp = stored.export;

  let adapter: ProviderAdapter;
  let account: GovernorAccount;
  try {
    const forUse = await getConnectionForUse(context, exp.connectionId, { abortSignal });
    adapter = adapterFor(context, forUse);
    account = governorAccount(forUse.connection);
  } catch (error) {
    if (isAppError(error, Errors.notFound)) {
      await finishRun(context, runId, 'failed', `The export's connection '${exp.connectionId}' no longer exists`);
      return;
    }
    throw error;
  }

  let segments: Map<string, Segment>;
  try {
    segments = await pinSegments(context, run, exp, abortSignal);
  } catch (error) {
    if (isAppError(error, Errors.notFound)) {
      await finishRun(context, runId, 'failed', error instanceof Error ? error.message : String(error));
      return;
    }
    throw error;
  }
  const started = await updateRunDoc(context, runId, (doc) => {
    if (isTerminal(doc.status)) return undefined;
    doc.status = doc.status === 'queued' ? 'planning' : doc.status;
    doc.startedAt ??= context.now().toISOString();
    doc.segmentVersions = Object.fromEntries([...segments].map(([id, segment]) => [id, segment.version]));
    return doc;
  });
  if (!started || isTerminal(started.doc.status)) return;

  let targets: TargetPlan[];
  try {
    targets = await prepareTargets(context, adapter, account, exp, segments, abortSignal);
  } catch (error) {
    if (isProviderErrorKind(error, 'auth')) {
      await finishRun(context, runId, 'failed', `The provider refused the connection's API key: ${error.message}`);
      return;
    }
    if (isProviderErrorKind(error, 'permanent')) {
      await finishRun(context, runId, 'failed', `The destination is not usable: ${error.message}`);
      return;
    }
    throw error;
  }

  log.info('planning', { targets: targets.length, mode: run.mode, dryRun: run.dryRun });
  try {
    await planTargets(context, run, exp, adapter, targets, segments, abortSignal);
  } catch (error) {
    if (error instanceof RunStopped) {
      log.info('planning stopped: the run ended meanwhile');
      return;
    }
    throw error;
  }
}

async function pinSegments(context: AppContext, run: RunDoc, exp: Export, abortSignal?: AbortSignal): Promise<Map<string, Segment>> {
  const segments = new Map<string, Segment>();
  for (const segmentId of exp.segmentIds) {
    const pinned = run.segmentVersions[segmentId];
    if (pinned) {
      // A re-planned run reads the version it pinned, with that version's own fields.
      const info = await acquireSegmentVersion(context, segmentId, pinned, run.runId, { abortSignal });
      const current = await getSegment(context, segmentId, { abortSignal });
      segments.set(segmentId, { ...current, version: info.version, fields: info.fields, keyField: info.keyField, memberCount: info.memberCount });
    } else {
      segments.set(segmentId, await acquireCurrentSegmentVersion(context, segmentId, run.runId, { abortSignal }));
    }
  }
  return segments;
}

/** The export's destination targets: one list/tag per segment, or the one Brevo list for all. */
function targetSpecs(exp: Export, provider: ProviderAdapter['provider'], segments: Map<string, Segment>): Omit<TargetPlan, 'target'>[] {
  if (provider === 'brevo') {
    const listId = exp.options.listId;
    if (listId === undefined) throw Errors.validationFailed('export (a Brevo export needs options.listId)');
    return [{ key: `brevo-${listId}`, spec: { provider, listId }, segmentIds: [...exp.segmentIds] }];
  }
  return exp.segmentIds.map((segmentId) => {
    const name = segments.get(segmentId)!.name;
    // Named after the segment: a renamed segment is a new list or tag with its own ledger.
    const key = `${provider}-${segmentId}-${hash53(name).toString(36)}`;
    const spec: TargetSpec = provider === 'iterable' ? { provider, listName: name } : { provider, tag: name };
    return { key, spec, segmentIds: [segmentId] };
  });
}

/** The requests `prepareTarget` makes (Iterable: list lookup and maybe creation; Brevo: the list check). */
const PREPARE_COST: Record<ProviderAdapter['provider'], { bucket: string; count: number } | undefined> = {
  iterable: { bucket: BUCKETS.iterable.api, count: 2 },
  brevo: { bucket: BUCKETS.brevo.contacts, count: 1 },
  omnisend: undefined,
};

async function prepareTargets(
  context: AppContext,
  adapter: ProviderAdapter,
  account: GovernorAccount,
  exp: Export,
  segments: Map<string, Segment>,
  abortSignal?: AbortSignal,
): Promise<TargetPlan[]> {
  const plans: TargetPlan[] = [];
  const cost = PREPARE_COST[adapter.provider];
  for (const spec of targetSpecs(exp, adapter.provider, segments)) {
    // The planner runs long anyway: it waits for its tokens in place rather than re-enqueueing.
    if (cost) await takeTokens(governorFor(context), account, cost.bucket, cost.count, abortSignal);
    plans.push({ ...spec, target: await adapter.prepareTarget(spec.spec, { abortSignal }) });
  }
  return plans;
}

async function takeTokens(governor: RateGovernor, account: GovernorAccount, bucket: string, count: number, abortSignal?: AbortSignal): Promise<void> {
  for (;;) {
    const grant = await governor.take(account, bucket, { count, abortSignal });
    if (grant.granted) return;
    await sleep(grant.waitMs, undefined, { signal: abortSignal });
  }
}

async function planTargets(
  context: AppContext,
  run: RunDoc,
  exp: Export,
  adapter: ProviderAdapter,
  targets: readonly TargetPlan[],
  segments: Map<string, Segment>,
  abortSignal?: AbortSignal,
): Promise<void> {
  const { runId } = run;
  const existing = new Map<number, ChunkStatus>();
  for await (const chunk of listChunkDocs(context, runId, abortSignal)) existing.set(chunk.chunk, chunk.status);
  const totals: PlannerTotals = { profiles: 0, invalid: 0, duplicates: 0, adds: 0, updates: 0, removes: 0, unchanged: 0 };
  const writer = new ChunkWriter(context, runId, {
    provider: adapter.provider,
    limits: adapter.chunkLimits,
    existing,
    webhookToken: adapter.provider === 'brevo' && context.config.publicBaseUrl ? newWebhookToken : undefined,
  });
  const rejects = new PlannerRejects(context, runId);
  const progress = new ProgressReporter(context, runId, totals, writer);
  const pace = new EventLoopPace();

  for (const [targetIndex, target] of targets.entries()) {
    const ledger = await loadLedger(context, exp.id, target.key, runId, abortSignal);
    const snapshot = run.dryRun ? undefined : new SnapshotWriter(context, exp.id, target.key, runId);
    const seen = new HashIndex(ledger.index.size + 1024);
    try {
      for (const [segmentIndex, segmentId] of target.segmentIds.entries()) {
        const version = segments.get(segmentId)!.version;
        for await (const batch of readSegmentBatches(context, segmentId, version, { abortSignal })) {
          for (const member of batch) {
            totals.profiles++;
            const raw = member.values[exp.mapping.email];
            const check = normalizeEmail(raw);
            if (!check.ok) {
              totals.invalid++;
              await rejects.add(targetIndex, { email: raw ?? '', segmentId, code: check.code, reason: check.reason });
              continue;
            }
            const { email } = check;
            const key = hashEmail(email);
            const seenSlot = seen.find(key);
            if (seenSlot >= 0) {
              // The same person twice in one segment is a reject; in another segment of the same
              // Brevo list they are simply already planned.
              if (seen.valueAt(seenSlot) === segmentIndex) {
                totals.duplicates++;
                await rejects.add(targetIndex, {
                  email,
                  segmentId,
                  code: 'duplicate',
                  reason: 'Another member of this segment has the same email; the first one is exported',
                });
              }
              continue;
            }
            seen.set(key, segmentIndex);
            const hash = mappedFieldsHash(member.values, exp.mapping);
            const slot = ledger.index.find(key);
            if (slot < 0) {
              totals.adds++;
              if (!run.dryRun) await writer.addUpsert(target, { email, fields: mapFields(member.values, exp.mapping), isNew: true, segmentId });
            } else {
              ledger.index.addFlags(slot, FLAG_SEEN);
              const stale = (ledger.index.flagsAt(slot) & FLAG_STALE) !== 0;
              if (run.mode === 'full' || stale || ledger.index.valueAt(slot) !== hash) {
                totals.updates++;
                if (!run.dryRun) await writer.addUpsert(target, { email, fields: mapFields(member.values, exp.mapping), isNew: false, segmentId });
              } else {
                totals.unchanged++;
              }
            }
            await snapshot?.write(email, hash, 'P');
          }
          await progress.tick();
          await pace.yield();
        }
      }
      // Members this export put in the target that are in none of the segments feeding it now.
      if (ledger.base) {
        await scanSnapshot(
          context,
          ledger.base,
          ledger.exceptions,
          async (entry) => {
            const slot = ledger.index.find(entry.key);
            if (slot >= 0 && (ledger.index.flagsAt(slot) & FLAG_SEEN) !== 0) return;
            const email = entry.email();
            totals.removes++;
            if (!run.dryRun) await writer.addRemove(target, email);
            await snapshot?.write(email, entry.fieldsHash, 'R');
            await progress.tick();
            await pace.yield();
          },
          abortSignal,
        );
      }
      if (!run.dryRun) await writer.flushTarget(target);
      await snapshot?.close();
    } catch (error) {
      snapshot?.abort();
      rejects.abort();
      throw error;
    }
  }
  await rejects.close();
  const chunksTotal = run.dryRun ? 0 : await writer.finish();
  if (!run.dryRun) for (const target of targets) await commitSnapshot(context, exp.id, target.key, runId);

  const result = await updateRunDoc(context, runId, (doc) => {
    if (isTerminal(doc.status)) return undefined;
    doc.totals = { ...doc.totals, ...totals };
    doc.chunksTotal = chunksTotal;
    doc.planned = true;
    doc.status = 'running';
    return settleIfComplete(doc, context.now());
  });
  context.log.info('planned', { runId, exportId: exp.id, chunks: chunksTotal, ...totals });
  if (result?.changed && isTerminal(result.doc.status)) await releaseRun(context, result.doc);
}

/**
 * The planner's loop resolves most awaits at once, so without a pause it would hold the event loop
 * for seconds and the senders in this process would miss their rate-limit slots: it lets other
 * work run every 5 ms.
 */
class EventLoopPace {
  private last = performance.now();

  async yield(): Promise<void> {
    if (performance.now() - this.last < PACE_SLICE_IN_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

/** Publishes the planner's totals every few seconds and notices a cancelled run. */
class ProgressReporter {
  private last = Date.now();

  constructor(
    private readonly context: AppContext,
    private readonly runId: string,
    private readonly totals: PlannerTotals,
    private readonly writer: ChunkWriter,
  ) {}

  async tick(): Promise<void> {
    if (Date.now() - this.last < PROGRESS_INTERVAL_IN_MS) return;
    this.last = Date.now();
    const result = await updateRunDoc(this.context, this.runId, (doc) => {
      if (isTerminal(doc.status)) return undefined;
      doc.totals = { ...doc.totals, ...this.totals };
      doc.chunksTotal = Math.max(doc.chunksTotal, this.writer.chunksWritten);
      return doc;
    });
    if (!result || isTerminal(result.doc.status)) throw new RunStopped();
  }
}

