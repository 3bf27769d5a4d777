// Provider-neutral vocabulary of the export: which providers there are, which fields a mapping
// can fill, where members go (a target), what a chunk asks a provider to do, and the names of the
// rate-limit counters a connection may override. The provider layer speaks these types; the
// adapters, limits and HTTP details stay in `src/providers`.
import { z } from 'zod';

export const PROVIDER_NAMES = ['iterable', 'brevo', 'omnisend'] as const;
export const providerNameSchema = z.enum(PROVIDER_NAMES);
export type ProviderName = z.infer<typeof providerNameSchema>;

/** The optional fields of a mapping; `email` is always present and is the member's identity. */
export const MAPPED_FIELDS = ['firstName', 'lastName', 'phone', 'address', 'city', 'countryRegion', 'postalCode'] as const;
export type MappedField = (typeof MAPPED_FIELDS)[number];

export const memberRecordSchema = z.object({
  email: z.string(),
  fields: z.partialRecord(z.enum(MAPPED_FIELDS), z.string()),
});
export type MemberRecord = z.infer<typeof memberRecordSchema>;

/** Where members go: the Iterable list or Omnisend tag named after a segment, or the export's Brevo list. */
export const targetSpecSchema = z.discriminatedUnion('provider', [
  z.object({ provider: z.literal('iterable'), listName: z.string().min(1) }),
  z.object({ provider: z.literal('brevo'), listId: z.number().int().positive() }),
  z.object({ provider: z.literal('omnisend'), tag: z.string().min(1) }),
]);
export type TargetSpec = z.infer<typeof targetSpecSchema>;

export const targetSchema = z.discriminatedUnion('provider', [
  z.object({ provider: z.literal('iterable'), listId: z.number().int().positive(), listName: z.string() }),
  z.object({ provider: z.literal('brevo'), listId: z.number().int().positive() }),
  z.object({ provider: z.literal('omnisend'), tag: z.string().min(1) }),
]);
export type Target = z.infer<typeof targetSchema>;

/**
 * `isNew`: new to the target (its membership must be set). `knownToProvider`: whether the provider
 * already had this contact when the run asked (Omnisend); a subscription status is sent only for a
 * new member the provider did not have (`false`), never when it had it or nobody asked.
 */
export const upsertRecordSchema = memberRecordSchema.extend({
  isNew: z.boolean(),
  segmentId: z.string().optional(),
  knownToProvider: z.boolean().optional(),
});
export type UpsertRecord = z.infer<typeof upsertRecordSchema>;

/**
 * A chunk's work. `upsert` adds members and updates their fields; `isNew` marks the records whose
 * membership (Omnisend tag) must still be set; `segmentId` names where the member came from (for
 * rejects). `remove` takes members out of the list/tag only.
 */
export const chunkOperationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('upsert'), target: targetSchema, records: z.array(upsertRecordSchema) }),
  z.object({ kind: z.literal('remove'), target: targetSchema, emails: z.array(z.string()) }),
]);
export type ChunkOperation = z.infer<typeof chunkOperationSchema>;

/**
 * A record the provider refused; every other record of a finished chunk counts as sent. A reject
 * with `delivered: true` is a note on a record that was sent all the same (`phone_dropped`: the
 * contact went without its phone): it is listed with the run's rejects but counts as sent.
 */
export const recordRejectSchema = z.object({ email: z.string(), code: z.string(), reason: z.string(), delivered: z.boolean().optional() });
export type RecordReject = z.infer<typeof recordRejectSchema>;

/** The rate-limit counters of each provider account, by name (their limits are in `src/providers/limits.ts`). */
export const RATE_COUNTER_NAMES = {
  iterable: ['api'],
  brevo: ['contactsPerSecond', 'contactsPerHour', 'otherPerHour'],
  omnisend: ['brand', 'tags'],
} as const satisfies Record<ProviderName, readonly string[]>;
export type RateCounterName<P extends ProviderName> = (typeof RATE_COUNTER_NAMES)[P][number];

/**
 * A connection's own limits (a higher Brevo plan: `{ contactsPerSecond: { limit: 20, windowMs: 1000 } }`),
 * by counter name; they replace the defaults of the counters they name.
 */
export const rateLimitOverridesSchema = z.record(
  z.string().min(1),
  z.object({ limit: z.number().int().positive(), windowMs: z.number().int().positive() }).strict(),
);
export type RateLimitOverrides = z.infer<typeof rateLimitOverridesSchema>;
