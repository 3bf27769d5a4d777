// Data-subject erasure: a request to take a person out of every list and tag an export added them
// to (or to delete them at the provider), and the suppression that keeps every later run from
// sending them. The person's address is never part of a resource: an erasure is known by its id,
// a suppression by a keyed hash.
import { z } from 'zod';
import { providerNameSchema } from './provider';

/** `POST /api/privacy/erasures`. */
export const createErasureBodySchema = z
  .object({
    email: z.string().trim().min(3).max(254).describe('The person to erase (normalised: trimmed, lower case)'),
    deleteAtProvider: z
      .boolean()
      .default(false)
      .describe("`true`: call each provider's documented delete operation for the person (Iterable, Brevo; Omnisend documents none, so there it is the tag removal); `false`: list and tag removal only"),
  })
  .strict();
export type CreateErasureBody = z.infer<typeof createErasureBodySchema>;

export const ERASURE_STATUSES = ['queued', 'running', 'succeeded', 'partially_succeeded', 'failed'] as const;
export const erasureStatusSchema = z.enum(ERASURE_STATUSES);
export type ErasureStatus = z.infer<typeof erasureStatusSchema>;

export const erasureTargetStatusSchema = z.enum(['pending', 'removed', 'deleted', 'failed']);
export type ErasureTargetStatus = z.infer<typeof erasureTargetStatusSchema>;

/** One destination target where an export had added the person, and what the erasure did there. */
export const erasureTargetSchema = z.object({
  exportId: z.string(),
  connectionId: z.string(),
  provider: providerNameSchema,
  targetKey: z.string().describe('The target (its ledger key: the list or tag)'),
  action: z.enum(['remove', 'delete']).describe('`remove`: out of the list or tag; `delete`: the provider deleted the contact'),
  status: erasureTargetStatusSchema,
  detail: z.string().optional(),
});
export type ErasureTarget = z.infer<typeof erasureTargetSchema>;

/** The erasure as stored: `email` is kept only until the erasure has ended. */
export const erasureDocSchema = z.object({
  erasureId: z.string(),
  status: erasureStatusSchema,
  deleteAtProvider: z.boolean(),
  email: z.string().optional(),
  requestedBy: z.object({ userId: z.string(), name: z.string() }),
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  /** Per export: `pending` until a pass found it without a run in progress and did its part. */
  exports: z.record(z.string(), z.enum(['pending', 'done'])),
  targets: z.array(erasureTargetSchema),
  /** Connections where the contact was deleted (once per provider account). */
  deletedAt: z.array(z.string()).default([]),
  rejectsScrubbed: z.boolean().default(false),
});
export type ErasureDoc = z.infer<typeof erasureDocSchema>;

/** `GET /api/privacy/erasures/{erasureId}`. */
export const erasureResourceSchema = erasureDocSchema.omit({ email: true, exports: true, deletedAt: true, rejectsScrubbed: true }).extend({
  exportsPending: z.number().int().min(0).describe('Exports not done yet (one with a run in progress waits for it)'),
});
export type ErasureResource = z.infer<typeof erasureResourceSchema>;

export function toErasureResource(doc: ErasureDoc): ErasureResource {
  const { email: _email, exports, deletedAt: _deleted, rejectsScrubbed: _scrubbed, ...rest } = doc;
  return { ...rest, exportsPending: Object.values(exports).filter((state) => state === 'pending').length };
}

export const erasureAcceptedSchema = z.object({ erasureId: z.string(), status: erasureStatusSchema, statusUrl: z.string() });
export type ErasureAccepted = z.infer<typeof erasureAcceptedSchema>;

export const erasureIdSchema = z.string().regex(/^er-[a-z0-9-]{6,64}$/, 'not an erasure id');

export const erasureMessageSchema = z.object({ erasureId: z.string().min(1) });
export type ErasureMessage = z.infer<typeof erasureMessageSchema>;

export const isErasureEnded = (status: ErasureStatus): boolean => status === 'succeeded' || status === 'partially_succeeded' || status === 'failed';
