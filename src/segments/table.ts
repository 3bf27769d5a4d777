// The segments table. Metadata rows share one partition so that listing is one query; each
// segment's versions and their holders (runs reading them) share the segment's own partition.
//
//   segments             / {segmentId}                  metadata (or a tombstone once deleted)
//   segment_{segmentId}  / version_{version}            one per complete upload
//   segment_{segmentId}  / holder_{version}_{runId}     a run reading that version
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { segmentFieldNameSchema, segmentIdSchema, segmentNameSchema, segmentVersionSchema, type Segment } from '../domain/segment';

export const META_PARTITION = 'segments';

export const versionPartition = (segmentId: string): string => `segment_${segmentId}`;
export const versionRowKey = (version: string): string => `version_${version}`;
export const holderRowKey = (version: string, runId: string): string => `holder_${version}_${runId}`;
export const holderRowPrefix = (version: string): string => `holder_${version}_`;

/** Run ids are row-key material: no characters that Table storage refuses in keys. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what keys may not hold
export const runIdSchema = z.string().regex(/^[^/\\#?\u0000-\u001f\u007f-\u009f]{1,200}$/, 'not a valid run id');

const fieldsJson = z.string().transform((text, ctx) => {
  const parsed = z.array(segmentFieldNameSchema).safeParse(JSON.parse(text));
  if (!parsed.success) {
    ctx.addIssue({ code: 'custom', message: 'fields is not a JSON array of field names' });
    return z.NEVER;
  }
  return parsed.data;
});

export const metaRowSchema = z.object({
  partitionKey: z.literal(META_PARTITION),
  rowKey: segmentIdSchema,
  etag: z.string(),
  name: segmentNameSchema,
  fields: fieldsJson,
  keyField: segmentFieldNameSchema,
  memberCount: z.number().int().nonnegative(),
  /** The current version; for a tombstone, the cut-off: versions started before the deletion. */
  version: segmentVersionSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
  deleted: z.boolean().default(false),
});
export type MetaRow = z.infer<typeof metaRowSchema>;

export const versionStates = ['ready', 'deleting'] as const;

export const versionRowSchema = z.object({
  partitionKey: z.string(),
  rowKey: z.string(),
  etag: z.string(),
  version: segmentVersionSchema,
  fields: fieldsJson,
  keyField: segmentFieldNameSchema,
  /** Records written, superseded duplicates included. */
  recordCount: z.number().int().nonnegative(),
  memberCount: z.number().int().nonnegative(),
  supersededCount: z.number().int().nonnegative(),
  partCount: z.number().int().nonnegative(),
  createdAt: z.string(),
  state: z.enum(versionStates),
});
export type VersionRow = z.infer<typeof versionRowSchema>;

export const holderRowSchema = z.object({
  partitionKey: z.string(),
  rowKey: z.string(),
  version: segmentVersionSchema,
  runId: z.string(),
  acquiredAt: z.string(),
});
export type HolderRow = z.infer<typeof holderRowSchema>;

export function segmentsTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.segments);
}

export function toSegment(row: MetaRow): Segment {
  return {
    id: row.rowKey,
    name: row.name,
    fields: row.fields,
    keyField: row.keyField,
    memberCount: row.memberCount,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    updatedBy: row.updatedBy,
  };
}

/** Every version row and holder row of a segment (none when it has no versions). */
export async function getVersionPartition(
  context: AppContext,
  segmentId: string,
  options: OperationOptions = {},
): Promise<{ versions: VersionRow[]; holders: HolderRow[] }> {
  const versions: VersionRow[] = [];
  const holders: HolderRow[] = [];
  const partition = versionPartition(segmentId);
  const entities = segmentsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${partition}` },
    abortSignal: options.abortSignal,
  });
  for await (const entity of entities) {
    if (entity.rowKey?.startsWith('version_')) versions.push(versionRowSchema.parse(entity));
    else if (entity.rowKey?.startsWith('holder_')) holders.push(holderRowSchema.parse(entity));
  }
  return { versions, holders };
}
