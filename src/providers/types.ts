import { z } from 'zod';

/**
 * The one interface the export pipeline speaks to every provider. Delivery of a chunk is a small
 * state machine of single requests, so that the sender can ask the rate governor for exactly one
 * token before each request, persist progress between requests, and re-enqueue (never sleep) when
 * it has to wait — for tokens, or for a provider's asynchronous processing.
 */
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
 * A chunk's work. `upsert` adds members and updates their fields; `isNew` marks the records whose
 * membership (Omnisend tag) must still be set; `segmentId` names where the member came from (for
 * rejects). `remove` takes members out of the list/tag only.
 */
export const chunkOperationSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('upsert'),
    target: targetSchema,
    records: z.array(memberRecordSchema.extend({ isNew: z.boolean(), segmentId: z.string().optional() })),
  }),
  z.object({ kind: z.literal('remove'), target: targetSchema, emails: z.array(z.string()) }),
]);
export type ChunkOperation = z.infer<typeof chunkOperationSchema>;

/** A record the provider refused; every other record of a finished chunk counts as sent. */
export const recordRejectSchema = z.object({ email: z.string(), code: z.string(), reason: z.string() });
export type RecordReject = z.infer<typeof recordRejectSchema>;

/** Adapter-specific progress (batch ids, process id, offsets), JSON, small: never the records. */
export type DeliveryState = Record<string, unknown>;

export type StepResult =
  | { kind: 'done'; rejects: RecordReject[] }
  /** Another request is needed; `notBeforeMs` asks to wait that long first (asynchronous processing). */
  | { kind: 'next'; state: DeliveryState; notBeforeMs?: number };

export interface ChunkLimits {
  maxRecords: number;
  /**
   * Bounds the sum of the chunk's records' sizes as UTF-8 bytes of their JSON, as the pipeline holds
   * them (`Buffer.byteLength(JSON.stringify(record))`, the upsert record or the removal's email):
   * `chunkItemBytes` in `./records`. Within it, every request the adapter makes stays within the
   * provider's body limit.
   */
  maxBytes: number;
}

/** A signal a provider gave about its rate limit, for the governor to learn from. */
export interface RateSignal {
  bucket: string;
  remaining?: number;
  resetInMs?: number;
}

export interface ProviderCallOptions {
  abortSignal?: AbortSignal;
  timeoutInMs?: number;
  /** Receives rate-limit headers seen on the way (Brevo `x-sib-ratelimit-*`). */
  onRateSignal?: (signal: RateSignal) => void;
  /**
   * Transient failures (5xx, resets, timeouts) are retried inside the call with backoff; this runs
   * before each retry, after the backoff, so the caller can draw a governor token for it (or throw
   * to stop retrying).
   */
  beforeRetry?: (info: { attempt: number; delayMs: number; error: Error }) => Promise<void> | void;
}

export interface StepOptions extends ProviderCallOptions {
  /** Brevo: where the provider should POST when an import ends (`PUBLIC_BASE_URL` set). */
  notifyUrl?: string;
}

export interface ProviderAdapter {
  readonly provider: ProviderName;
  readonly chunkLimits: { upsert: ChunkLimits; remove: ChunkLimits };
  /** Resolves when the key is accepted; throws a provider `auth` error when it is not. */
  verifyCredentials(options?: ProviderCallOptions): Promise<void>;
  /** Iterable: get-or-create the list by name; Brevo: check that the list exists; Omnisend: nothing. */
  prepareTarget(spec: TargetSpec, options?: ProviderCallOptions): Promise<Target>;
  /** The first state of a chunk's delivery (pure). */
  start(operation: ChunkOperation): DeliveryState;
  /** The governor bucket the next request of this state draws a token from. */
  nextBucket(operation: ChunkOperation, state: DeliveryState): string;
  /** Performs exactly one request. Throws a classified provider error on failure. */
  step(operation: ChunkOperation, state: DeliveryState, options?: StepOptions): Promise<StepResult>;
}
