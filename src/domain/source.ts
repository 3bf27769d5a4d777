import { z } from 'zod';
import { listSchema } from './envelope';
import { segmentFieldNameSchema, segmentIdSchema, segmentNameSchema } from './segment';

/**
 * A segment source: a place in Blob Storage (or Data Lake Storage Gen2) where another system, such
 * as Dynamics 365 Customer Insights, writes segments. `cdm-folder` reads CDM folders (`model.json`,
 * `*.manifest.cdm.json`): each entity becomes a segment, its partitions read in order as one new
 * version. `csv-folder` has one sub-folder per segment whose newest complete file (CSV with a header
 * row, or NDJSON) is the segment's full membership.
 */
export const SOURCE_KINDS = ['cdm-folder', 'csv-folder'] as const;
export const sourceKindSchema = z.enum(SOURCE_KINDS);
export type SourceKind = z.infer<typeof sourceKindSchema>;

export const sourceIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an id is 1-64 letters, digits, - or _');

const displayNameSchema = z.string().trim().min(1, 'must not be empty').max(256);

/** Blob container names as Azure Storage allows them. */
export const containerNameSchema = z
  .string()
  .regex(/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/, 'a container name is 3-63 lower-case letters, digits and single hyphens');

/** A folder inside the container: no leading slash, `/`-separated, stored with a trailing slash. */
export const prefixSchema = z
  .string()
  .max(1024)
  .transform((prefix) => prefix.trim().replace(/^\/+|\/+$/g, ''))
  .transform((prefix) => (prefix === '' ? '' : `${prefix}/`))
  .refine((prefix) => !prefix.split('/').some((part) => part === '.' || part === '..'), 'a prefix may not hold . or .. folders');

/** The blob endpoint of the storage account; absent means the app's own account. */
export const accountUrlSchema = z
  .string()
  .trim()
  .max(512)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.search === '' && url.hash === '' && url.username === '';
    } catch {
      return false;
    }
  }, 'must be the account\'s blob (or dfs) endpoint, e.g. https://<account>.blob.core.windows.net')
  .transform((value) => value.replace(/\/+$/, ''));

export const sourceLocationSchema = z
  .object({
    accountUrl: accountUrlSchema.optional().describe("The account's blob or dfs endpoint; absent: the app's own storage account"),
    container: containerNameSchema,
    prefix: prefixSchema.default('').describe('The folder the source reads (the CDM folder, or the folder of the csv-folder sub-folders)'),
  })
  .strict();
export type SourceLocation = z.infer<typeof sourceLocationSchema>;

/** Which entity (CDM) or sub-folder (csv-folder) feeds which segment. */
export const sourceEntitySchema = z
  .object({
    entity: z.string().trim().min(1).max(256).describe('The CDM entity name, or the csv-folder sub-folder name'),
    segmentId: segmentIdSchema,
    name: segmentNameSchema.optional().describe("The segment's display name; by default the entity name"),
    keyField: segmentFieldNameSchema.optional().describe('The attribute holding the profile key; by default CustomerId or id'),
  })
  .strict();
export type SourceEntity = z.infer<typeof sourceEntitySchema>;

const entitiesSchema = z
  .array(sourceEntitySchema)
  .min(1)
  .max(100)
  .refine((entities) => new Set(entities.map((item) => item.entity)).size === entities.length, 'an entity is listed twice')
  .refine((entities) => new Set(entities.map((item) => item.segmentId)).size === entities.length, 'a segment is fed by two entities');

/** A source as the app keeps it. */
export const sourceSchema = z.object({
  id: sourceIdSchema,
  displayName: z.string(),
  kind: sourceKindSchema,
  location: z.object({ accountUrl: z.string().optional(), container: z.string(), prefix: z.string() }),
  entities: z.array(sourceEntitySchema).optional(),
  runExports: z.boolean(),
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type Source = z.infer<typeof sourceSchema>;

/** `POST /api/sources`. */
export const createSourceBodySchema = z
  .object({
    displayName: displayNameSchema,
    kind: sourceKindSchema,
    location: sourceLocationSchema,
    entities: entitiesSchema
      .optional()
      .describe('Only these entities, into these segments; absent: every entity, into a segment whose id derives from its name'),
    runExports: z.boolean().default(true).describe('After a new version, start a delta run of every export that uses the segment'),
  })
  .strict();
export type CreateSourceBody = z.infer<typeof createSourceBodySchema>;

/** `PATCH /api/sources/{sourceId}`: the kind of a source does not change; `entities: null` reads every entity again. */
export const updateSourceBodySchema = z
  .object({
    displayName: displayNameSchema.optional(),
    location: sourceLocationSchema.optional(),
    entities: entitiesSchema.nullable().optional(),
    runExports: z.boolean().optional(),
  })
  .strict()
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'name at least one field to change');
export type UpdateSourceBody = z.infer<typeof updateSourceBodySchema>;

/** Where a problem is: the file, and for a malformed file the line and column (1-based). */
export const sourceProblemSchema = z.object({
  code: z.string().describe('An error code of the catalog (`source_model_invalid`, `segment_csv_malformed`, …)'),
  message: z.string(),
  path: z.string().describe('The blob the problem is in'),
  line: z.number().int().positive().optional(),
  column: z.number().int().positive().optional(),
  at: z.string(),
});
export type SourceProblem = z.infer<typeof sourceProblemSchema>;

/** One `model.json` (or manifest, or csv-folder file) as seen: the idempotency key of an ingestion. */
export const sourceFileSchema = z.object({
  path: z.string(),
  etag: z.string(),
  lastModified: z.string(),
});
export type SourceFile = z.infer<typeof sourceFileSchema>;

export const sourceEntityStatusSchema = z.object({
  entity: z.string(),
  segmentId: z.string(),
  lastIngested: sourceFileSchema
    .extend({
      ingestedAt: z.string(),
      version: z.string().describe('The segment version it made'),
      memberCount: z.number().int().nonnegative(),
      runs: z
        .array(z.object({ exportId: z.string(), runId: z.string() }))
        .optional()
        .describe('The runs it started (absent until they are started)'),
    })
    .optional(),
  waiting: sourceFileSchema
    .extend({ reason: z.string(), since: z.string() })
    .optional()
    .describe('A newer export that is not complete yet (a partition missing or still being written)'),
  lastError: sourceProblemSchema
    .extend({
      etag: z.string().optional().describe('The ETag of `path` when it failed: the same file is not tried again unless `willRetry`'),
      part: z.string().optional().describe('The partition file, for a malformed CSV'),
      willRetry: z.boolean(),
    })
    .optional(),
});
export type SourceEntityStatus = z.infer<typeof sourceEntityStatusSchema>;

export const sourceScanStatusSchema = z.object({
  lastScanAt: z.string().optional(),
  /** Problems of the folder itself (a malformed model.json): no segment changed because of them. */
  problems: z.array(sourceProblemSchema),
});
export type SourceScanStatus = z.infer<typeof sourceScanStatusSchema>;

/** The public source resource: the source, its last scan and each entity's state. */
export const sourceResourceSchema = sourceSchema.extend({
  status: sourceScanStatusSchema.extend({ entities: z.array(sourceEntityStatusSchema) }),
});
export type SourceResource = z.infer<typeof sourceResourceSchema>;
export const sourceListSchema = listSchema(sourceResourceSchema);

/** What `POST /api/sources/{sourceId}/scan` answers. */
export const sourceScanQueuedSchema = z.object({
  sourceId: z.string(),
  status: z.literal('queued'),
  statusUrl: z.string().describe('The source: its status shows what the scan found'),
});
export type SourceScanQueued = z.infer<typeof sourceScanQueuedSchema>;

/** A message on the source-events queue that the app writes itself: scan one source. */
export const sourceScanMessageSchema = z.object({
  kind: z.literal('scan'),
  sourceId: sourceIdSchema,
  reason: z.enum(['schedule', 'on-demand', 'recheck']),
  /** How many rechecks of an incomplete export came before this one. */
  attempt: z.number().int().nonnegative().default(0),
});
export type SourceScanMessage = z.infer<typeof sourceScanMessageSchema>;
