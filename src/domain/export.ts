import { z } from 'zod';
import { MAPPED_FIELDS } from '../providers/types';

/** An export: which connection, which segments, how fields map, provider options. */
export const exportIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an id is 1-64 letters, digits, - or _');

const sourceField = z.string().trim().min(1).max(256);

export const mappingSchema = z
  .object({
    email: sourceField,
    ...Object.fromEntries(MAPPED_FIELDS.map((field) => [field, sourceField.optional()])),
  })
  .strict();
export type Mapping = { email: string } & Partial<Record<(typeof MAPPED_FIELDS)[number], string>>;

export const exportOptionsSchema = z.object({ listId: z.number().int().positive().optional() }).strict();
export type ExportOptions = z.infer<typeof exportOptionsSchema>;

export const exportSchema = z.object({
  id: exportIdSchema,
  name: z.string(),
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
