// Makes a fully written version current: first its version row, then the segment's metadata
// (optimistic concurrency on the metadata row). Version ids sort by upload start, so when two
// uploads of one segment overlap, the later-started one wins and the other is refused (409) —
// as is an upload that started before the segment was deleted.
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import type { Segment } from '../domain/segment';
import { Errors } from '../errors';
import { deleteEntity, getEntity, isAlreadyExists, isPreconditionFailed } from '../storage/tables';
import {
  META_PARTITION,
  metaRowSchema,
  segmentsTable,
  toSegment,
  versionPartition,
  versionRowKey,
} from './table';

export interface CommitVersionOptions extends OperationOptions {
  segmentId: string;
  version: string;
  name: string | undefined;
  uploadedBy: string;
  fields: string[];
  keyField: string;
  recordCount: number;
  memberCount: number;
  supersededCount: number;
  partCount: number;
}

const MAX_COMMIT_ATTEMPTS = 5;

export async function commitVersion(context: AppContext, options: CommitVersionOptions): Promise<Segment> {
  const { segmentId, version, abortSignal } = options;
  const table = segmentsTable(context);
  const now = context.now().toISOString();
  await table.createEntity(
    {
      partitionKey: versionPartition(segmentId),
      rowKey: versionRowKey(version),
      version,
      fields: JSON.stringify(options.fields),
      keyField: options.keyField,
      recordCount: options.recordCount,
      memberCount: options.memberCount,
      supersededCount: options.supersededCount,
      partCount: options.partCount,
      createdAt: now,
      state: 'ready',
    },
    { abortSignal },
  );
  try {
    return await makeCurrent(context, options, now);
  } catch (error) {
    await deleteEntity(table, versionPartition(segmentId), versionRowKey(version));
    throw error;
  }
}

async function makeCurrent(context: AppContext, options: CommitVersionOptions, now: string): Promise<Segment> {
  const { segmentId, version, abortSignal } = options;
  const table = segmentsTable(context);
  for (let attempt = 1; ; attempt++) {
    const meta = await getEntity(table, META_PARTITION, segmentId, metaRowSchema, { abortSignal });
    if (meta && meta.version > version) {
      throw Errors.conflict(
        meta.deleted
          ? 'The segment was deleted while this upload ran; nothing was changed'
          : 'A later upload replaced this segment while this upload ran; nothing was changed',
      );
    }
    const live = meta && !meta.deleted ? meta : undefined;
    const row = {
      partitionKey: META_PARTITION,
      rowKey: segmentId,
      name: options.name ?? live?.name ?? segmentId,
      fields: JSON.stringify(options.fields),
      keyField: options.keyField,
      memberCount: options.memberCount,
      version,
      createdAt: live?.createdAt ?? now,
      updatedAt: now,
      updatedBy: options.uploadedBy,
      deleted: false,
    };
    try {
      if (meta) await table.updateEntity(row, 'Replace', { etag: meta.etag, abortSignal });
      else await table.createEntity(row, { abortSignal });
      return toSegment(metaRowSchema.parse({ ...row, etag: '' }));
    } catch (error) {
      // Someone else changed the row between our read and write: read again and decide again.
      const raced = isPreconditionFailed(error) || isAlreadyExists(error);
      if (!raced || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
    }
  }
}
