import { z } from 'zod';
import { MAPPED_FIELDS, PROVIDER_NAMES, type MappedField } from './provider';
import { connectionIdSchema } from './connection';
import { listSchema } from './envelope';
import { notificationSecretRefSchema, notificationsSchema } from './notification';
import { segmentIdSchema } from './segment';

/** An export: which connection, which segments, how fields map, provider options. */
export const exportIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an id is 1-64 letters, digits, - or _');

const sourceField = z.string().trim().min(1, 'name a field of the segments').max(128);

/** Which segment field feeds each provider field; `email` is required. */
export const mappingSchema = z
  .object({
    email: sourceField,
    firstName: sourceField.optional(),
    lastName: sourceField.optional(),
    phone: sourceField.optional(),
    address: sourceField.optional(),
    city: sourceField.optional(),
    countryRegion: sourceField.optional(),
    postalCode: sourceField.optional(),
  })
  .strict();
export type Mapping = z.infer<typeof mappingSchema>;
export const MAPPING_KEYS = ['email', ...MAPPED_FIELDS] as const satisfies readonly ('email' | MappedField)[];

/** A share in [0, 1]; `null` switches the check off. */
const shareSchema = z.number().min(0, 'a share is between 0 and 1').max(1, 'a share is between 0 and 1').nullable();

/**
 * What makes a run look like an accident, so that it stops before it sends anything: planned
 * removals above `maxRemoveShare` of what the export holds at a target (and at least
 * `MIN_REMOVALS_CHECKED` of them), or invalid and missing emails above `maxInvalidShare` of the
 * profiles. `POST /api/exports/{id}/runs?confirmRemovals=true` runs it anyway.
 */
export const safetySchema = z
  .object({ maxRemoveShare: shareSchema.optional(), maxInvalidShare: shareSchema.optional() })
  .strict();
export type Safety = z.infer<typeof safetySchema>;
export const DEFAULT_SAFETY = { maxRemoveShare: 0.2, maxInvalidShare: 0.5 } as const;
export const MIN_REMOVALS_CHECKED = 100;

/** The thresholds in force: the export's own, the defaults where it names none. */
export function safetyOf(options: { safety?: Safety }): { maxRemoveShare: number | null; maxInvalidShare: number | null } {
  return {
    maxRemoveShare: options.safety?.maxRemoveShare === undefined ? DEFAULT_SAFETY.maxRemoveShare : options.safety.maxRemoveShare,
    maxInvalidShare: options.safety?.maxInvalidShare === undefined ? DEFAULT_SAFETY.maxInvalidShare : options.safety.maxInvalidShare,
  };
}

/** Per segment, the mapped fields its fields lack (a renamed column, a forced upload). */
export function missingMappedFields(mapping: Mapping, segments: readonly { id: string; fields: readonly string[] }[]): { segmentId: string; fields: string[] }[] {
  return segments.flatMap((segment) => {
    const fields = MAPPING_KEYS.flatMap((key) => {
      const source = mapping[key];
      return source !== undefined && !segment.fields.includes(source) ? [source] : [];
    });
    return fields.length > 0 ? [{ segmentId: segment.id, fields }] : [];
  });
}

export const exportOptionsSchema = z.object({ listId: z.number().int().positive().optional(), safety: safetySchema.optional() }).strict();
export type ExportOptions = z.infer<typeof exportOptionsSchema>;

export const exportNameSchema = z.string().trim().min(1).max(200);
const segmentIdsSchema = z
  .array(segmentIdSchema)
  .min(1, 'choose at least one segment')
  .max(50)
  .refine((ids) => new Set(ids).size === ids.length, 'a segment is listed twice');

export const exportSchema = z.object({
  id: exportIdSchema,
  name: exportNameSchema,
  connectionId: z.string(),
  segmentIds: z.array(z.string()).min(1),
  mapping: mappingSchema,
  options: exportOptionsSchema,
  /** Who hears when a run ends. */
  notifications: notificationsSchema.optional(),
  /** Where the key that signs JSON notifications is kept (the secret store); never shown. */
  notificationSecret: notificationSecretRefSchema.optional(),
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type Export = z.infer<typeof exportSchema>;

/** `POST /api/exports`. */
export const createExportBodySchema = z
  .object({
    name: exportNameSchema,
    connectionId: connectionIdSchema,
    segmentIds: segmentIdsSchema,
    mapping: mappingSchema,
    options: exportOptionsSchema.default({}),
    notifications: notificationsSchema.optional().describe('Who hears when a run ends; JSON receivers verify the signature with the secret shown once in the answer'),
  })
  .strict();
export type CreateExportBody = z.infer<typeof createExportBodySchema>;

/** `PATCH /api/exports/{exportId}`: the connection of an export does not change. */
export const updateExportBodySchema = z
  .object({
    name: exportNameSchema.optional(),
    segmentIds: segmentIdsSchema.optional(),
    mapping: mappingSchema.optional(),
    options: exportOptionsSchema.optional(),
    notifications: notificationsSchema.optional(),
  })
  .strict()
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'name at least one field to change');
export type UpdateExportBody = z.infer<typeof updateExportBodySchema>;

/** The public export resource: `provider` is `unknown` when the connection is gone. */
export const exportResourceSchema = exportSchema.omit({ notificationSecret: true }).extend({
  provider: z.enum([...PROVIDER_NAMES, 'unknown']),
  activeRunId: z.string().optional().describe('The run that is queued, planning or running, if any'),
  deleting: z.boolean().optional().describe('Deleted with removeMembers: its cleanup run is taking its members out; it goes when that run succeeds'),
  omnisendTags: z
    .array(z.object({ segmentId: z.string(), segmentName: z.string(), tag: z.string() }))
    .optional()
    .describe("Omnisend exports: the tag each segment's members get, the segment's name mapped onto the characters Omnisend accepts ([a-zA-Z0-9_- ], 1-128)"),
});

/** `DELETE /api/exports/{exportId}[?removeMembers=true]`. */
export const deleteExportQuerySchema = z
  .object({
    removeMembers: z
      .enum(['true', 'false'], "must be 'true' or 'false'")
      .default('false')
      .describe('`true` first removes from each target the members this export added (a cleanup run), then deletes the export'),
  })
  .strict();
export type ExportResource = z.infer<typeof exportResourceSchema>;

/**
 * What creating an export (or adding its first receivers) answers: the export and, this once, the
 * secret that signs its JSON notifications (`x-segment-export-signature: sha256=<HMAC of the body>`).
 */
export const exportCreatedSchema = exportResourceSchema.extend({
  notificationSecret: z.string().optional().describe('Shown once: the HMAC-SHA256 key of the `x-segment-export-signature` header of JSON notifications'),
});
export type ExportCreated = z.infer<typeof exportCreatedSchema>;
export const exportListSchema = listSchema(exportResourceSchema);
