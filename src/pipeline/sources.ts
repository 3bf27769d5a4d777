// Segment sources at work: scan a source's folder, ingest each entity whose newest export is new
// and complete (through the one streaming ingestion, as one new segment version), then start a
// delta run (trigger `source`) of every export that uses a changed segment. Triggered by Event
// Grid BlobCreated events, the rescan timer and the scan endpoint, all through the source-events
// queue. Every step is idempotent: the entity claim and the path@ETag key make an event delivered
// twice one version, the segment's `updatedBy` marker finds a version made just before a crash, and
// run ids derive from the versions, so a retried start creates each run once.
import { createHash } from 'node:crypto';
import type { AppContext } from '../app/context';
import type { RunStatus } from '../domain/run';
import { sourceScanMessageSchema, type Source, type SourceFile, type SourceScanMessage } from '../domain/source';
import { AppError, isAppError, Errors } from '../errors';
import { exportsUsingSegment } from '../exports/repository';
import { getSegment } from '../segments/repository';
import { ingestSegment } from '../segments/ingest';
import { checkComplete, DEFAULT_STABILITY_DELAY_IN_MS } from '../sources/completeness';
import { fileKey } from '../sources/decide';
import { concernsSource, createdBlobUrls, isEventGridMessage } from '../sources/events';
import { problemOf, scanFolder, type EntityCandidate } from '../sources/folder';
import { openPartition, openParts } from '../sources/partitions';
import { claimEntity, getSource, listEntityStates, listSources, recordRunsStarted, recordScan, releaseClaim, type EntityOutcome } from '../sources/repository';
import { parseMessage } from '../storage/queue-messages';
import { sourceStorage } from '../storage/source-storage';
import type { OperationOptions } from '../app/operation';
import { enqueueSourceScan, TRIGGER_QUEUES } from './queues';
import { startRun } from './runs';

/** An incomplete export is looked at again this often, this many times; after that the timer finds it. */
export const DEFAULT_RECHECK_DELAY_IN_MS = 60_000;
export const MAX_RECHECKS = 10;

export interface ScanSourceOptions extends OperationOptions {
  /** Rechecks of an incomplete export before this scan. */
  attempt?: number;
}

export interface ScanReport {
  sourceId: string;
  ingested: { entity: string; segmentId: string; version: string; memberCount: number }[];
  waiting: string[];
  failed: string[];
  unchanged: number;
  problems: number;
  runs: { exportId: string; runId: string; status: RunStatus }[];
}

type Taken = EntityOutcome['kind'] | 'unchanged' | 'busy' | 'retry';

/** Scans one source; undefined when it does not exist (any more). */
export async function scanSource(context: AppContext, sourceId: string, options: ScanSourceOptions = {}): Promise<ScanReport | undefined> {
  const stored = await getSource(context, sourceId, options);
  if (!stored) {
    context.log.info('scan of a source that does not exist', { sourceId });
    return undefined;
  }
  const { source } = stored;
  const container = sourceStorage(context.storage, context.config.storage, source.location.accountUrl).container(source.location.container);
  const folder = await scanFolder(container, source, context.now(), options);
  const report: ScanReport = { sourceId, ingested: [], waiting: [], failed: [], unchanged: 0, problems: folder.problems.length, runs: [] };
  let again = false;
  for (const candidate of folder.candidates) {
    const taken = await takeCandidate(context, source, candidate, options);
    if (taken.kind === 'ingested') report.ingested.push({ entity: candidate.entity, segmentId: candidate.segmentId, version: taken.version, memberCount: taken.memberCount });
    else if (taken.kind === 'waiting') report.waiting.push(candidate.entity);
    else if (taken.kind === 'failed' || taken.kind === 'retry') report.failed.push(candidate.entity);
    else report.unchanged++;
    again ||= taken.kind === 'waiting' || taken.kind === 'retry' || taken.kind === 'busy';
  }
  await recordScan(context, sourceId, { lastScanAt: context.now().toISOString(), problems: folder.problems }, options);
  report.runs = await startRunsOfNewVersions(context, source, options);
  if (again) await scheduleRecheck(context, sourceId, options.attempt ?? 0);
  context.log.info('source scanned', { ...report, ingested: report.ingested.length, runs: report.runs.length });
  return report;
}

interface TakenCandidate {
  kind: Taken;
  version: string;
  memberCount: number;
}

/** Claims the entity, ingests it when that is what the claim decides, and records the outcome. */
async function takeCandidate(context: AppContext, source: Source, candidate: EntityCandidate, options: OperationOptions): Promise<TakenCandidate> {
  const none = { version: '', memberCount: 0 };
  const { decision, claim } = await claimEntity(context, { sourceId: source.id, entity: candidate.entity, segmentId: candidate.segmentId, file: candidate.file }, options);
  if (!claim) {
    // Another scan ingests an older file of this entity: look again once it is done.
    const busyWithOther = decision.action === 'busy' && decision.key !== fileKey(candidate.file);
    return { kind: busyWithOther ? 'busy' : 'unchanged', ...none };
  }
  let outcome: EntityOutcome;
  try {
    outcome = await ingestClaimed(context, source, candidate, claim.row?.waiting, options);
  } catch (error) {
    options.abortSignal?.throwIfAborted();
    outcome = { kind: 'failed', error: failureOf(error, candidate.file, context.now()) };
    context.log.warn('source entity not ingested', { sourceId: source.id, entity: candidate.entity, segmentId: candidate.segmentId, code: outcome.error.code, willRetry: outcome.error.willRetry });
  }
  if (!(await releaseClaim(context, claim, outcome, options))) context.log.warn('source entity claim was taken over', { sourceId: source.id, entity: candidate.entity });
  if (outcome.kind === 'ingested') return { kind: 'ingested', version: outcome.ingested.version, memberCount: outcome.ingested.memberCount };
  return { kind: outcome.kind === 'failed' && outcome.error.willRetry ? 'retry' : outcome.kind, ...none };
}

async function ingestClaimed(
  context: AppContext,
  source: Source,
  candidate: EntityCandidate,
  waitingBefore: { path: string; etag: string; since: string } | undefined,
  options: OperationOptions,
): Promise<EntityOutcome> {
  if (candidate.problem) throw candidate.problem;
  const { file, segmentId } = candidate;
  const marker = ingestionMarker(source.id, file);
  // A crash between committing the version and recording it: the version is there, marked as ours.
  const existing = await getSegment(context, segmentId, options);
  if (existing?.updatedBy === marker) return ingested(file, existing.updatedAt, existing.version, existing.memberCount);

  const container = sourceStorage(context.storage, context.config.storage, source.location.accountUrl).container(source.location.container);
  const delayInMs = context.tuning.sources?.stabilityDelayMs ?? DEFAULT_STABILITY_DELAY_IN_MS;
  const completeness = await checkComplete(container, file, candidate.partitions.map((partition) => partition.blobName), { ...options, delayInMs });
  if (!completeness.complete) {
    const since = waitingBefore && fileKey(waitingBefore) === fileKey(file) ? waitingBefore.since : context.now().toISOString();
    context.log.info('source export not complete yet', { sourceId: source.id, entity: candidate.entity, reason: completeness.reason });
    return { kind: 'waiting', waiting: { ...file, reason: completeness.reason, since } };
  }
  const partitions = completeness.partitions.map((state, index) => ({ ...state, headerRow: candidate.partitions[index]!.headerRow }));
  const csv = candidate.format === 'csv';
  const result = await ingestSegment(context, {
    segmentId,
    name: candidate.name,
    keyField: candidate.keyField,
    format: candidate.format,
    body: csv ? null : openPartition(container, partitions[0]!, options),
    parts: csv ? openParts(container, partitions, options) : undefined,
    csv: candidate.csv,
    uploadedBy: marker,
    abortSignal: options.abortSignal,
  });
  return ingested(file, context.now().toISOString(), result.version, result.memberCount);
}

function ingested(file: SourceFile, ingestedAt: string, version: string, memberCount: number): EntityOutcome {
  return { kind: 'ingested', ingested: { ...file, ingestedAt, version, memberCount } };
}

/**
 * Who made a version, as the segment records it (`updatedBy`): the source and a digest of the file
 * it came from, so that a retried scan recognises its own version.
 */
export function ingestionMarker(sourceId: string, file: SourceFile): string {
  return `source:${sourceId}:${createHash('sha256').update(fileKey(file)).digest('hex').slice(0, 16)}`;
}

/** A malformed or unsupported file is not tried again until it changes; anything else (storage, a file changing while read) is. */
function failureOf(error: unknown, file: SourceFile, now: Date): NonNullable<Extract<EntityOutcome, { kind: 'failed' }>['error']> {
  const appError = error instanceof AppError ? error : undefined;
  const permanent = appError !== undefined && appError.status < 500;
  const problem = appError ? problemOf(appError, file.path, now) : { code: Errors.internal.code, message: 'Reading the export failed; it is tried again', path: file.path, at: now.toISOString() };
  const part = (appError?.details as { part?: unknown } | undefined)?.part;
  return { ...problem, etag: file.etag, ...(typeof part === 'string' ? { part } : {}), willRetry: !permanent };
}

async function scheduleRecheck(context: AppContext, sourceId: string, attempt: number): Promise<void> {
  if (attempt >= MAX_RECHECKS) return;
  const delayInMs = context.tuning.sources?.recheckDelayMs ?? DEFAULT_RECHECK_DELAY_IN_MS;
  await enqueueSourceScan(context, { kind: 'scan', sourceId, reason: 'recheck', attempt: attempt + 1 }, { visibilityDelayInSeconds: delayInMs / 1000 });
}

/**
 * After new versions: one delta run of every export that uses a changed segment (one per export,
 * however many of its segments changed). The run id derives from the export and the versions, so a
 * start that is retried finds its run; a busy export records the run `skipped`.
 */
async function startRunsOfNewVersions(context: AppContext, source: Source, options: OperationOptions): Promise<ScanReport['runs']> {
  const pending = [...(await listEntityStates(context, source.id, options)).values()].filter((row) => row.lastIngested && !row.lastIngested.runs);
  if (pending.length === 0) return [];
  const versionsByExport = new Map<string, string[]>();
  const exportsByRow = new Map<(typeof pending)[number], string[]>();
  for (const row of pending) {
    const exportIds = source.runExports ? (await exportsUsingSegment(context, row.segmentId, options)).map((stored) => stored.export.id) : [];
    exportsByRow.set(row, exportIds);
    for (const exportId of exportIds) versionsByExport.set(exportId, [...(versionsByExport.get(exportId) ?? []), row.lastIngested!.version]);
  }
  const started = new Map<string, { exportId: string; runId: string; status: RunStatus } | null | undefined>();
  for (const [exportId, versions] of versionsByExport) started.set(exportId, await startSourceRun(context, source, exportId, versions));
  for (const [row, exportIds] of exportsByRow) {
    // A start that failed is tried again by the next scan; a deleted export needs no run.
    if (exportIds.some((exportId) => started.get(exportId) === undefined)) continue;
    const runs = exportIds.flatMap((exportId) => {
      const run = started.get(exportId);
      return run ? [{ exportId, runId: run.runId }] : [];
    });
    await recordRunsStarted(context, source.id, row, runs, options);
  }
  return [...started.values()].filter((run): run is NonNullable<typeof run> => run !== null && run !== undefined);
}

/** The started run; null when the export is gone; undefined when starting failed (tried again later). */
async function startSourceRun(context: AppContext, source: Source, exportId: string, versions: readonly string[]): Promise<{ exportId: string; runId: string; status: RunStatus } | null | undefined> {
  const digest = createHash('sha256').update([exportId, ...[...versions].sort()].join('\n')).digest('hex').slice(0, 20);
  try {
    const run = await startRun(context, exportId, { trigger: 'source', mode: 'delta', dryRun: false, requestedBy: `source:${source.id}`, runId: `source-${digest}-${exportId}` });
    return { exportId, runId: run.runId, status: run.status };
  } catch (error) {
    if (isAppError(error, Errors.notFound)) return null;
    context.log.error('a run for a new source version could not start', { sourceId: source.id, exportId, error: error instanceof Error ? error : String(error) });
    return undefined;
  }
}

/** A message of the source-events queue: an Event Grid event, or the app's own scan request. */
export async function handleSourceMessage(context: AppContext, payload: unknown, options: OperationOptions = {}): Promise<void> {
  if (!isEventGridMessage(payload)) {
    const message = parseMessage(sourceScanMessageSchema, payload, TRIGGER_QUEUES.sourceEvents);
    await scanSource(context, message.sourceId, { ...options, attempt: message.attempt });
    return;
  }
  const { urls, ignored } = createdBlobUrls(payload);
  const concerned = new Set<string>();
  for await (const { source } of listSources(context, options)) {
    const containerUrl = containerUrlOf(context, source);
    if (containerUrl && urls.some((url) => concernsSource(source, containerUrl, url))) concerned.add(source.id);
  }
  if (concerned.size === 0) context.log.debug('blob event concerns no source', { blobs: urls.length, ignored });
  for (const sourceId of concerned) await scanSource(context, sourceId, options);
}

function containerUrlOf(context: AppContext, source: Source): string | undefined {
  try {
    return sourceStorage(context.storage, context.config.storage, source.location.accountUrl).container(source.location.container).url;
  } catch (error) {
    if (isAppError(error)) return undefined;
    throw error;
  }
}

/** The rescan timer: one scan message per source, so that each scan is an invocation (and a retry) of its own. */
export async function enqueueScheduledScans(context: AppContext, options: OperationOptions = {}): Promise<number> {
  let count = 0;
  for await (const { source } of listSources(context, options)) {
    await enqueueSourceScan(context, { kind: 'scan', sourceId: source.id, reason: 'schedule', attempt: 0 });
    count++;
  }
  return count;
}

/** `POST /api/sources/{sourceId}/scan`. */
export async function requestSourceScan(context: AppContext, sourceId: string): Promise<SourceScanMessage> {
  const message: SourceScanMessage = { kind: 'scan', sourceId, reason: 'on-demand', attempt: 0 };
  await enqueueSourceScan(context, message);
  return message;
}

/** A message that failed every delivery: the timer scans the source again; this only makes it visible. */
export async function sourceMessagePoisoned(context: AppContext, payload: unknown): Promise<void> {
  const scan = sourceScanMessageSchema.safeParse(payload);
  context.log.error('a source event failed repeatedly and went to the poison queue', {
    sourceId: scan.success ? scan.data.sourceId : undefined,
    kind: scan.success ? 'scan' : isEventGridMessage(payload) ? 'event' : 'unknown',
  });
}
