import { z } from 'zod';
import { MAPPED_FIELDS, PROVIDER_NAMES, type MappedField } from './provider';
import { connectionIdSchema } from './connection';
import { listSchema } from './envelope';
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

export const exportOptionsSchema = z.object({ listId: z.number().int().positive().optional() }).strict();
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
  })
  .strict()
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'name at least one field to change');
export type UpdateExportBody = z.infer<typeof updateExportBodySchema>;

/** The public export resource: `provider` is `unknown` when the connection is gone. */
export const exportResourceSchema = exportSchema.extend({
  provider: z.enum([...PROVIDER_NAMES, 'unknown']),
  activeRunId: z.string().optional().describe('The run that is queued, planning or running, if any'),
  omnisendTags: z
    .array(z.object({ segmentId: z.string(), segmentName: z.string(), tag: z.string() }))
    .optional()
    .describe("Omnisend exports: the tag each segment's members get, the segment's name mapped onto the characters Omnisend accepts ([a-zA-Z0-9_- ], 1-128)"),
});
export type ExportResource = z.infer<typeof exportResourceSchema>;
export const exportListSchema = listSchema(exportResourceSchema);
