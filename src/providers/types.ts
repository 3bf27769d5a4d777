// What the export pipeline asks of a provider: one adapter per provider, driven one request at a
// time. The provider vocabulary (names, targets, chunk operations) is provider-neutral and lives
// in `src/domain/provider.ts`; it is re-exported here for the adapters.
import type { OperationOptions } from '../app/operation';
import type { ChunkOperation, ProviderName, RecordReject, Target, TargetSpec } from '../domain/provider';

export * from '../domain/provider';

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

/** One page of emails read from a provider (a target's members, or an account's contacts). */
export interface MemberPage {
  /** Lower-cased emails. */
  emails: string[];
  /** Where the next page starts; absent on the last page. */
  cursor?: string;
}

/**
 * Which contacts a provider account already has, for providers whose upsert would overwrite a
 * subscription status (Omnisend): a status is only ever sent for a contact the provider does not
 * have. Either list every contact (one request per `pageSize`) or look emails up one by one,
 * whichever costs fewer requests for the run at hand.
 */
export interface ContactDirectory {
  /** The governor bucket of both kinds of request. */
  readonly bucket: string;
  /** Contacts per listing page. */
  readonly pageSize: number;
  listContacts(cursor: string | undefined, options?: ProviderCallOptions): Promise<MemberPage>;
  contactExists(email: string, options?: ProviderCallOptions): Promise<boolean>;
}

/** A signal a provider gave about its rate limit, for the governor to learn from. */
export interface RateSignal {
  bucket: string;
  remaining?: number;
  resetInMs?: number;
}

export interface ProviderCallOptions extends OperationOptions {
  timeoutInMs?: number;
  /** Receives rate-limit headers seen on the way (Brevo `x-sib-ratelimit-*`). */
  onRateSignal?: (signal: RateSignal) => void;
  /**
   * Transient failures (5xx, resets, timeouts) are retried inside the call with backoff; this runs
   * before each retry, after the backoff, so the caller can draw a governor token for it (or throw
   * to stop retrying).
   */
  beforeRetry?: (info: { attempt: number; delayMs: number; error: Error }) => Promise<void> | void;
  /**
   * Runs once the request is ready (its body built and checked), just before it is sent: the caller
   * takes its governor token here, so that the slot it is granted is used at once and not spent
   * building the body. Throwing stops the request unsent.
   */
  beforeSend?: () => Promise<void>;
  /** Runs right after the request was handed to the connection (the governor learns when it went). */
  afterSend?: () => void;
}

export interface StepOptions extends ProviderCallOptions {
  /** Brevo: where the provider should POST when an import ends (`PUBLIC_BASE_URL` set). */
  notifyUrl?: string;
}

/**
 * The one interface the export pipeline speaks to every provider. Delivery of a chunk is a small
 * state machine of single requests, so that the sender can ask the rate governor for exactly one
 * token before each request, persist progress between requests, and choose how to wait — for
 * tokens, or for a provider's asynchronous processing: a short wait (up to a second) is spent in
 * place, a longer one re-enqueues the chunk with a visibility delay.
 */
export interface ProviderAdapter {
  readonly provider: ProviderName;
  readonly chunkLimits: { upsert: ChunkLimits; remove: ChunkLimits };
  /** Resolves when the key is accepted; throws a provider `auth` error when it is not. */
  verifyCredentials(options?: ProviderCallOptions): Promise<void>;
  /** Iterable: get-or-create the list by name; Brevo: check that the list exists; Omnisend: nothing. */
  prepareTarget(spec: TargetSpec, options?: ProviderCallOptions): Promise<Target>;
  /**
   * The members a target holds now, one page per request (each request draws from `membersBucket`):
   * before the first add into a target, they are read and kept as `foreign` (never removed).
   */
  readTargetMembers(target: Target, cursor: string | undefined, options?: ProviderCallOptions): Promise<MemberPage>;
  readonly membersBucket: string;
  /** Present for providers whose upsert would overwrite an existing contact's subscription status. */
  readonly directory?: ContactDirectory;
  /** The first state of a chunk's delivery (pure). */
  start(operation: ChunkOperation): DeliveryState;
  /** The governor bucket the next request of this state draws a token from. */
  nextBucket(operation: ChunkOperation, state: DeliveryState): string;
  /** Performs exactly one request. Throws a classified provider error on failure. */
  step(operation: ChunkOperation, state: DeliveryState, options?: StepOptions): Promise<StepResult>;
  /**
   * A data-subject erasure with `deleteAtProvider`: the provider's documented delete of one contact
   * (one request from `deleteBucket`). Absent where the provider documents none (Omnisend).
   */
  deleteContact?(email: string, options?: ProviderCallOptions): Promise<'deleted' | 'absent'>;
  readonly deleteBucket?: string;
}
