import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import { sourceEntityStatusSchema, sourceScanStatusSchema } from '../domain/source';

/**
 * The sources table. Sources share one partition (they are few, and listing them is one query);
 * each source's entities share a partition of their own, one row per entity with its ingestion
 * state and the claim of the scan that is ingesting it.
 *
 *   source             / {sourceId}        the source document, and its last scan
 *   entities_{sourceId} / e_{sha(entity)}   an entity: last ingested, waiting, last error, claim
 */
export const SOURCES_PARTITION = 'source';

export const entityPartition = (sourceId: string): string => `entities_${sourceId}`;
/** Entity names may hold anything; row keys may not, so the key is a digest and the name a column. */
export const entityRowKey = (entity: string): string => `e_${createHash('sha256').update(entity).digest('hex').slice(0, 40)}`;

const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .optional()
    .transform((text, ctx): z.infer<T> | undefined => {
      if (text === undefined || text === '') return undefined;
      const parsed = schema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: 'custom', message: `not the expected JSON: ${parsed.error.message}` });
      return z.NEVER;
    });

export const sourceRowSchema = z.object({
  partitionKey: z.literal(SOURCES_PARTITION),
  rowKey: z.string(),
  /** JSON of the source document. */
  doc: z.string(),
  /** JSON of the last scan's status. */
  scan: json(sourceScanStatusSchema),
  etag: z.string().optional(),
});

const entityState = sourceEntityStatusSchema.shape;

export const entityRowSchema = z.object({
  partitionKey: z.string(),
  rowKey: z.string(),
  entity: z.string(),
  segmentId: z.string(),
  lastIngested: json(entityState.lastIngested.unwrap()),
  waiting: json(entityState.waiting.unwrap()),
  lastError: json(entityState.lastError.unwrap()),
  /** The file (path@etag) that a scan is ingesting right now, and since when: a lease. */
  claimKey: z.string().optional(),
  claimedAt: z.string().optional(),
  etag: z.string().optional(),
});
export type EntityRow = z.infer<typeof entityRowSchema>;

export function sourcesTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.sources);
}
