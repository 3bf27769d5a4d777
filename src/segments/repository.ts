import { odata } from '@azure/data-tables';
import type { AppContext } from '../app/context';
import type { Segment } from '../domain/segment';
import { Errors } from '../errors';
import { versionCutoff } from './layout';
import { getEntityOrUndefined, isStatus, META_PARTITION, metaRowSchema, segmentsTable, toSegment } from './table';
import { cleanupSegment } from './versions';

/** Segment metadata: read, list, delete. Uploads go through `ingestSegment`. */
export interface SegmentRequestOptions {
  abortSignal?: AbortSignal;
}

/** The segment, or undefined when it does not exist (or was deleted). */
export async function findSegment(context: AppContext, segmentId: string, options: SegmentRequestOptions = {}): Promise<Segment | undefined> {
  const row = await getEntityOrUndefined(segmentsTable(context), META_PARTITION, segmentId, metaRowSchema, options.abortSignal);
  return row && !row.deleted ? toSegment(row) : undefined;
}

/** The segment's metadata (current version, fields, member count); 404 when it does not exist. */
export async function getSegment(context: AppContext, segmentId: string, options: SegmentRequestOptions = {}): Promise<Segment> {
  const segment = await findSegment(context, segmentId, options);
  if (!segment) throw Errors.notFound('Segment', segmentId);
  return segment;
}

/** Every segment, by id. */
export async function* listSegments(context: AppContext, options: SegmentRequestOptions = {}): AsyncGenerator<Segment> {
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
export async function deleteSegment(context: AppContext, segmentId: string, options: SegmentRequestOptions = {}): Promise<void> {
  const { abortSignal } = options;
  const table = segmentsTable(context);
  const row = await getEntityOrUndefined(table, META_PARTITION, segmentId, metaRowSchema, abortSignal);
  if (!row || row.deleted) return;
  const now = context.now();
  try {
    await table.updateEntity(
      { partitionKey: META_PARTITION, rowKey: segmentId, deleted: true, version: versionCutoff(now), updatedAt: now.toISOString() },
      'Merge',
      { etag: row.etag, abortSignal },
    );
  } catch (error) {
    if (isStatus(error, 412)) throw Errors.conflict('The segment changed while it was being deleted; try again');
    if (isStatus(error, 404)) return;
    throw error;
  }
  context.log.info('segment deleted', { segmentId });
  await cleanupSegment(context, segmentId, options).catch((error: unknown) =>
    context.log.warn('segment cleanup failed', { segmentId, error: error instanceof Error ? error : String(error) }),
  );
}
