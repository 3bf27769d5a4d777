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
  /** The one active run of this export ('' when none) and since when: the per-export run slot. */
  activeRunId: z.string().optional(),
  activeRunSince: z.string().optional(),
  /** Deleted with `removeMembers`: its cleanup run takes its members out, then the export goes. */
  deleting: z.boolean().optional(),
  etag: z.string().optional(),
});
export type ExportRow = z.infer<typeof exportRowSchema>;
