// Which segment versions may go. A run holds the version it reads (`acquireSegmentVersion`
// before reading, `releaseSegmentVersion` when it ends); a version that is not current and has no
// live holder is deleted. Holds expire so that a crashed run cannot pin a version forever, and
// versions whose upload never became current (crash, lost race) go after a grace period.
import { odata } from '@azure/data-tables';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { segmentVersionSchema, type Segment, type SegmentVersionInfo } from '../domain/segment';
import { Errors, isAppError } from '../errors';
import { deleteEntity, deleteEntityIfUnchanged, getEntity, replaceEntityIfUnchanged } from '../storage/tables';
import { parseBlobName, versionStartedAt } from './layout';
import {
  getVersionPartition,
  holderRowKey,
  holderRowPrefix,
  holderRowSchema,
  META_PARTITION,
  metaRowSchema,
  runIdSchema,
  segmentsTable,
  toSegment,
  versionPartition,
  versionRowKey,
  versionRowSchema,
  type HolderRow,
  type VersionRow,
} from './table';
import { deleteVersionBlobs } from './version-writer';

export const SEGMENT_HOLD_EXPIRY_IN_MS = 24 * 60 * 60 * 1000;
/** No upload runs this long, so an older version folder without a commit is abandoned. */
export const ABANDONED_VERSION_AGE_IN_MS = 12 * 60 * 60 * 1000;
const ACQUIRE_CURRENT_ATTEMPTS = 3;

/** Marks `version` as read by `runId`; throws 404 when that version no longer exists. */
export async function acquireSegmentVersion(
  context: AppContext,
  segmentId: string,
  version: string,
  runId: string,
  options: OperationOptions = {},
): Promise<SegmentVersionInfo> {
  const { abortSignal } = options;
  runIdSchema.parse(runId);
  segmentVersionSchema.parse(version);
  const table = segmentsTable(context);
  const partition = versionPartition(segmentId);
  const before = await requireReadyVersion(context, segmentId, version, { abortSignal });
  await table.upsertEntity(
    { partitionKey: partition, rowKey: holderRowKey(version, runId), version, runId, acquiredAt: context.now().toISOString() },
    'Replace',
    { abortSignal },
  );
  // A cleanup may have started deleting the version between the read and the hold: it marks the
  // version before it looks for holders, so reading the version again settles who won.
  try {
    await requireReadyVersion(context, segmentId, version, { abortSignal });
  } catch (error) {
    await deleteEntity(table, partition, holderRowKey(version, runId));
    throw error;
  }
  return toVersionInfo(segmentId, before);
}

/**
 * Acquires the segment's current version for `runId`, retrying when an upload replaced it in
 * between; answers the metadata of the version acquired.
 */
export async function acquireCurrentSegmentVersion(
  context: AppContext,
  segmentId: string,
  runId: string,
  options: OperationOptions = {},
): Promise<Segment> {
  for (let attempt = 1; ; attempt++) {
    const meta = await getEntity(segmentsTable(context), META_PARTITION, segmentId, metaRowSchema, options);
    if (!meta || meta.deleted) throw Errors.notFound('Segment', segmentId);
    try {
      await acquireSegmentVersion(context, segmentId, meta.version, runId, options);
      return toSegment(meta);
    } catch (error) {
      if (!isAppError(error, Errors.notFound) || attempt >= ACQUIRE_CURRENT_ATTEMPTS) throw error;
    }
  }
}

/** Ends `runId`'s hold on `version` and deletes the version if nothing else needs it. */
export async function releaseSegmentVersion(
  context: AppContext,
  segmentId: string,
  version: string,
  runId: string,
  options: OperationOptions = {},
): Promise<void> {
  await deleteEntity(segmentsTable(context), versionPartition(segmentId), holderRowKey(version, runId), options);
  await cleanupSegment(context, segmentId, options).catch((error: unknown) =>
    context.log.warn('segment cleanup failed', { segmentId, error: error instanceof Error ? error : String(error) }),
  );
}

/** The version row of a readable version; 404 `not_found` when it is gone or being deleted. */
export async function requireReadyVersion(
  context: AppContext,
  segmentId: string,
  version: string,
  options: OperationOptions = {},
): Promise<VersionRow> {
  const row = await getEntity(segmentsTable(context), versionPartition(segmentId), versionRowKey(version), versionRowSchema, options);
  if (!row || row.state !== 'ready') throw Errors.notFound('Segment version', `${segmentId}/${version}`);
  return row;
}

export function toVersionInfo(segmentId: string, row: VersionRow): SegmentVersionInfo {
  return { segmentId, version: row.version, fields: row.fields, keyField: row.keyField, memberCount: row.memberCount };
}

export interface CleanupResult {
  versionsDeleted: string[];
}

/**
 * Deletes the segment's versions that nobody needs: older than the current one (or than the
 * deletion), or abandoned uploads; never the current version, never one a live run holds.
 */
export async function cleanupSegment(context: AppContext, segmentId: string, options: OperationOptions = {}): Promise<CleanupResult> {
  const { abortSignal } = options;
  const table = segmentsTable(context);
  const now = context.now().getTime();
  const meta = await getEntity(table, META_PARTITION, segmentId, metaRowSchema, { abortSignal });
  const { versions, holders } = await getVersionPartition(context, segmentId, { abortSignal });
  const isLive = (holder: HolderRow) => now - Date.parse(holder.acquiredAt) < SEGMENT_HOLD_EXPIRY_IN_MS;
  const isAbandoned = (version: string) => now - versionStartedAt(version).getTime() > ABANDONED_VERSION_AGE_IN_MS;

  for (const holder of holders.filter((holder) => !isLive(holder))) {
    await deleteEntity(table, holder.partitionKey, holder.rowKey, { abortSignal });
    context.log.warn('segment hold expired', { segmentId, version: holder.version, runId: holder.runId });
  }
  const current = meta && !meta.deleted ? meta.version : undefined;
  const versionsDeleted: string[] = [];
  for (const row of versions) {
    if (row.version === current) continue;
    const superseded = meta !== undefined && row.version < meta.version;
    if (!superseded && !isAbandoned(row.version)) continue;
    if (holders.some((holder) => holder.version === row.version && isLive(holder))) continue;
    if (await deleteVersion(context, segmentId, row, isLive, { abortSignal })) versionsDeleted.push(row.version);
  }
  await deleteAbandonedBlobs(context, segmentId, new Set(versions.map((row) => row.version)), isAbandoned, { abortSignal });
  if (meta?.deleted && isAbandoned(meta.version) && versions.length === versionsDeleted.length) {
    // Nothing of the segment is left and no upload that predates the deletion can still commit.
    // A lost race (gone, or changed meanwhile) leaves the row to whoever won.
    await deleteEntityIfUnchanged(table, META_PARTITION, segmentId, meta.etag, { abortSignal });
  }
  if (versionsDeleted.length > 0) context.log.info('segment versions deleted', { segmentId, versions: versionsDeleted });
  return { versionsDeleted };
}

/** Runs `cleanupSegment` for every segment that has anything stored, deleted ones included. */
export async function sweepSegments(context: AppContext, options: OperationOptions = {}): Promise<CleanupResult> {
  const { abortSignal } = options;
  const segmentIds = new Set<string>();
  const table = segmentsTable(context);
  const rows = table.listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${META_PARTITION} or (PartitionKey ge ${'segment_'} and PartitionKey lt ${'segment`'})`, select: ['PartitionKey', 'RowKey'] },
    abortSignal,
  });
  for await (const row of rows) {
    if (row.partitionKey === META_PARTITION && row.rowKey) segmentIds.add(row.rowKey);
    else if (row.partitionKey?.startsWith('segment_')) segmentIds.add(row.partitionKey.slice('segment_'.length));
  }
  const container = context.storage.container(context.storage.names.containers.segments);
  for await (const item of container.listBlobsByHierarchy('/', { abortSignal })) {
    if (item.kind === 'prefix') segmentIds.add(item.name.replace(/\/$/, ''));
  }
  const versionsDeleted: string[] = [];
  for (const segmentId of segmentIds) {
    try {
      const result = await cleanupSegment(context, segmentId, options);
      versionsDeleted.push(...result.versionsDeleted.map((version) => `${segmentId}/${version}`));
    } catch (error) {
      context.log.warn('segment cleanup failed', { segmentId, error: error instanceof Error ? error : String(error) });
    }
  }
  return { versionsDeleted };
}

/**
 * Marks the version as being deleted (so that no new hold succeeds), checks once more for holders,
 * then removes its blobs and its row. Answers whether it deleted the version.
 */
async function deleteVersion(
  context: AppContext,
  segmentId: string,
  row: VersionRow,
  isLive: (holder: HolderRow) => boolean,
  options: OperationOptions,
): Promise<boolean> {
  const { abortSignal } = options;
  const table = segmentsTable(context);
  const mark = { partitionKey: row.partitionKey, rowKey: row.rowKey };
  const marked = await replaceEntityIfUnchanged(table, { ...mark, state: 'deleting' }, row.etag, { mode: 'Merge', abortSignal });
  // Changed or gone since we read it: another cleanup or a hold got there first.
  if (marked === undefined) return false;
  const holders = await getHolders(context, segmentId, row.version, { abortSignal });
  if (holders.some(isLive)) {
    await table.updateEntity({ ...mark, state: 'ready' }, 'Merge', { abortSignal });
    return false;
  }
  const container = context.storage.container(context.storage.names.containers.segments);
  await deleteVersionBlobs(container, segmentId, row.version, { abortSignal });
  await deleteEntity(table, row.partitionKey, row.rowKey, { abortSignal });
  for (const holder of holders) await deleteEntity(table, holder.partitionKey, holder.rowKey, { abortSignal });
  return true;
}

async function getHolders(context: AppContext, segmentId: string, version: string, options: OperationOptions): Promise<HolderRow[]> {
  const prefix = holderRowPrefix(version);
  const upper = `${prefix.slice(0, -1)}\``;
  const holders: HolderRow[] = [];
  const entities = segmentsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${versionPartition(segmentId)} and RowKey ge ${prefix} and RowKey lt ${upper}` },
    abortSignal: options.abortSignal,
  });
  for await (const entity of entities) holders.push(holderRowSchema.parse(entity));
  return holders;
}

/** Version folders without a version row (uploads that failed without cleaning up, or crashed). */
async function deleteAbandonedBlobs(
  context: AppContext,
  segmentId: string,
  known: ReadonlySet<string>,
  isAbandoned: (version: string) => boolean,
  options: OperationOptions,
): Promise<void> {
  const { abortSignal } = options;
  const container = context.storage.container(context.storage.names.containers.segments);
  const orphans = new Set<string>();
  for await (const blob of container.listBlobsFlat({ prefix: `${segmentId}/`, abortSignal })) {
    const parsed = parseBlobName(blob.name);
    if (!parsed || known.has(parsed.version) || !segmentVersionSchema.safeParse(parsed.version).success) continue;
    if (isAbandoned(parsed.version)) orphans.add(parsed.version);
  }
  for (const version of orphans) {
    await deleteVersionBlobs(container, segmentId, version, { abortSignal });
    context.log.info('abandoned segment upload removed', { segmentId, version });
  }
}
