// The audit log's vocabulary: who (the principal's user id and name) did what (an action on a
// resource, with the fields that changed) and when. Values of secret fields never appear: a key
// rotation is an entry that says so.
import { z } from 'zod';
import { listSchema } from './envelope';

export const AUDIT_RESOURCE_TYPES = ['connection', 'export', 'segment', 'source', 'run', 'notification', 'erasure', 'suppression'] as const;
export const auditResourceTypeSchema = z.enum(AUDIT_RESOURCE_TYPES);
export type AuditResourceType = z.infer<typeof auditResourceTypeSchema>;

export const AUDIT_ACTIONS = ['create', 'update', 'rotate_key', 'delete', 'start', 'cancel', 'test', 'erase', 'lift'] as const;
export const auditActionSchema = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof auditActionSchema>;

/** One changed field: its value before and after (absent when it had none), or a note instead of values (a secret). */
export const auditChangeSchema = z.object({
  field: z.string(),
  old: z.unknown().optional(),
  new: z.unknown().optional(),
  note: z.string().optional().describe('Said instead of the values of a secret field: `key rotated`'),
});
export type AuditChange = z.infer<typeof auditChangeSchema>;

export const auditActorSchema = z.object({
  userId: z.string().describe('The principal\'s user id (`schedule` for the timer)'),
  name: z.string(),
});
export type AuditActor = z.infer<typeof auditActorSchema>;

/** An entry of `GET /api/audit`. */
export const auditEntrySchema = z.object({
  id: z.string(),
  at: z.string().describe('When (ISO 8601, UTC)'),
  actor: auditActorSchema,
  action: auditActionSchema,
  resourceType: auditResourceTypeSchema,
  resourceId: z.string(),
  summary: z.string().optional(),
  changes: z.array(auditChangeSchema).optional(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;
export const auditListSchema = listSchema(auditEntrySchema);

/** What a caller records; the id and the time are the log's. */
export type AuditRecord = Omit<AuditEntry, 'id' | 'at'>;

/** The query of `GET /api/audit`. */
export const auditQuerySchema = z
  .object({
    resourceType: auditResourceTypeSchema.optional().describe('Only entries about this kind of resource'),
    resourceId: z.string().min(1).max(256).optional().describe('Only entries about this resource'),
    continuationToken: z.string().max(2048).optional().describe('From the previous page; a token this API did not give out is a 400'),
  })
  .strict();
export type AuditQuery = z.infer<typeof auditQuerySchema>;

/** The actor of what the timer does. */
export const SCHEDULE_ACTOR: AuditActor = { userId: 'schedule', name: 'schedule' };
