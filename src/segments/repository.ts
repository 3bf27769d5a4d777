// Segment metadata: get, require, list, delete. Uploads go through `ingestSegment` (ingest.ts),
// versions and their holds through versions.ts.
import { odata } from '@azure/data-tables';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import type { Segment } from '../domain/segment';
import { Errors } from '../errors';
import { getEntity, isNotFound, isPreconditionFailed } from '../storage/tables';
import { versionCutoff } from './layout';
import { META_PARTITION, metaRowSchema, segmentsTable, toSegment } from './table';
import { cleanupSegment } from './versions';

/** The segment, or undefined when it does not exist (or was deleted). */
export async function getSegment(context: AppContext, segmentId: string, options: OperationOptions = {}): Promise<Segment | undefined> {
  const row = await getEntity(segmentsTable(context), META_PARTITION, segmentId, metaRowSchema, options);
  return row && !row.deleted ? toSegment(row) : undefined;
}

/** The segment's metadata (current version, fields, member count); 404 `not_found` when it does not exist. */
export async function requireSegment(context: AppContext, segmentId: string, options: OperationOptions = {}): Promise<Segment> {
  const segment = await getSegment(context, segmentId, options);
  if (!segment) throw Errors.notFound('Segment', segmentId);
  return segment;
}

/** Every segment, by id. */
export async function* listSegments(context: AppContext, options: OperationOptions = {}): AsyncGenerator<Segment> {
  const entities = segmentsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${META_PARTITION}` },
    abortSignal: options.abortSignal,
  });
  for await (const entity of entities) {
    const row = metaRowSchema.parse(entity);
    if (!row.deleted) yield toSegment(row);
  }
}

/**
 * Deletes a segment (whether exports still use it is the API's decision). The metadata becomes
 * a tombstone that marks every version started before now as deletable; versions that a run still
 * reads stay until it releases them. Deleting a segment that does not exist succeeds.
 */
export async function deleteSegment(context: AppContext, segmentId: string, options: OperationOptions = {}): Promise<void> {
  const { abortSignal } = options;
  const table = segmentsTable(context);
  const row = await getEntity(table, META_PARTITION, segmentId, metaRowSchema, { abortSignal });
  if (!row || row.deleted) return;
  const now = context.now();
  try {
    await table.updateEntity(
      { partitionKey: META_PARTITION, rowKey: segmentId, deleted: true, version: versionCutoff(now), updatedAt: now.toISOString() },
      'Merge',
      { etag: row.etag, abortSignal },
    );
  } catch (error) {
    if (isPreconditionFailed(error)) throw Errors.conflict('The segment changed while it was being deleted; try again');
    if (isNotFound(error)) return;
    throw error;
  }
  context.log.info('segment deleted', { segmentId });
  await cleanupSegment(context, segmentId, options).catch((error: unknown) =>
    context.log.warn('segment cleanup failed', { segmentId, error: error instanceof Error ? error : String(error) }),
  );
}
