import { z } from 'zod';

/** The exports table: one row per export in a single partition (exports are few). */
export const EXPORTS_PARTITION = 'export';

export const exportRowSchema = z.object({
  partitionKey: z.literal(EXPORTS_PARTITION),
  rowKey: z.string(),
  connectionId: z.string(),
  /** JSON array of segment ids. */
  segmentIds: z.string(),
  /** JSON of the whole export document. */
  doc: z.string(),
});
export type ExportRow = z.infer<typeof exportRowSchema>;
