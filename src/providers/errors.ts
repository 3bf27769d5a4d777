// A provider call that failed, classified by what the caller should do about it, and the one
// mapping from such a failure to what our API answers (`toApiError`).
import { AppError, Errors, type ErrorFactory } from '../errors';
import type { ProviderName } from './types';

/**
 * The kinds of failure:
 * - `throttled`: wait `retryAfterMs` (pause the whole account), then try again;
 * - `transient`: 5xx, reset, timeout: try again with backoff;
 * - `auth`: the key is wrong or lacks a permission: stop, a person must fix the connection;
 * - `permanent`: the provider refused the request itself (other 4xx): retrying cannot help.
 * Messages and fields never hold the API key (the client scrubs provider text before it gets here).
 */
export type ProviderErrorKind = 'throttled' | 'transient' | 'auth' | 'permanent';

/** Each kind's catalog entry: its code, and the status our API answers when one reaches it unmapped. */
const CATALOG_ENTRIES: Record<ProviderErrorKind, ErrorFactory<[string]>> = {
  throttled: Errors.providerThrottled,
  transient: Errors.providerTransient,
  auth: Errors.providerAuth,
  permanent: Errors.providerPermanent,
};

export interface ProviderErrorInit {
  provider: ProviderName;
  /** The provider's HTTP status; absent when no answer came (reset, timeout, refused). */
  statusCode?: number;
  /** The provider's own error code (`BadParams`, `invalid_parameter`, a problem `type`). */
  providerCode?: string;
  /** The provider's own message, scrubbed of the key. */
  providerMessage?: string;
  /** What was being done, for the message: `POST /api/lists/subscribe`. */
  operation?: string;
  /** How many attempts were made (retries of transient failures included). */
  attempts?: number;
  cause?: unknown;
}

export abstract class ProviderError extends AppError {
  abstract readonly kind: ProviderErrorKind;
  readonly provider: ProviderName;
  readonly statusCode: number | undefined;
  readonly providerCode: string | undefined;
  readonly providerMessage: string | undefined;
  readonly operation: string | undefined;
  readonly attempts: number;

  protected constructor(kind: ProviderErrorKind, init: ProviderErrorInit, summary: string) {
    // A subclass (callers test `instanceof` and read the fields), with its catalog entry's code and status.
    const entry = CATALOG_ENTRIES[kind];
    super(entry.code, entry.status, describe(init, summary), { cause: init.cause });
    this.name = 'ProviderError';
    this.provider = init.provider;
    this.statusCode = init.statusCode;
    this.providerCode = init.providerCode;
    this.providerMessage = init.providerMessage;
    this.operation = init.operation;
    this.attempts = init.attempts ?? 1;
  }
}

export type RetryAfterSource = 'provider' | 'default';

export class ProviderThrottledError extends ProviderError {
  readonly kind = 'throttled' as const;
  /** How long the whole account should pause; always set (a default when the provider did not say). */
  readonly retryAfterMs: number;
  /** Whether `retryAfterMs` came from the provider (`Retry-After`, `x-sib-ratelimit-reset`, `retryAfter`). */
  readonly retryAfterSource: RetryAfterSource;

  constructor(init: ProviderErrorInit & { retryAfterMs: number; retryAfterSource: RetryAfterSource }) {
    super('throttled', init, `is rate limiting us; retry in ${Math.ceil(init.retryAfterMs)} ms`);
    this.name = 'ProviderThrottledError';
    this.retryAfterMs = init.retryAfterMs;
    this.retryAfterSource = init.retryAfterSource;
  }
}

export class ProviderTransientError extends ProviderError {
  readonly kind = 'transient' as const;
  /** A suggested wait before trying again (the provider's `Retry-After` on a 503, or the next backoff). */
  readonly retryAfterMs: number | undefined;

  constructor(init: ProviderErrorInit & { retryAfterMs?: number }) {
    super('transient', init, 'did not answer usefully; try again later');
    this.name = 'ProviderTransientError';
    this.retryAfterMs = init.retryAfterMs;
  }
}

export class ProviderAuthError extends ProviderError {
  readonly kind = 'auth' as const;

  constructor(init: ProviderErrorInit) {
    super('auth', init, 'rejected the API key');
    this.name = 'ProviderAuthError';
  }
}

export class ProviderPermanentError extends ProviderError {
  readonly kind = 'permanent' as const;

  constructor(init: ProviderErrorInit) {
    super('permanent', init, 'refused the request');
    this.name = 'ProviderPermanentError';
  }
}

export function isProviderError(error: unknown): error is ProviderError {
  return error instanceof ProviderError;
}

interface ProviderErrorOfKind {
  throttled: ProviderThrottledError;
  transient: ProviderTransientError;
  auth: ProviderAuthError;
  permanent: ProviderPermanentError;
}

export function isProviderErrorKind<K extends ProviderErrorKind>(error: unknown, kind: K): error is ProviderErrorOfKind[K] {
  return error instanceof ProviderError && error.kind === kind;
}

const DISPLAY_NAMES: Record<ProviderName, string> = { iterable: 'Iterable', brevo: 'Brevo', omnisend: 'Omnisend' };

export function providerDisplayName(provider: ProviderName): string {
  return DISPLAY_NAMES[provider];
}

/**
 * The one mapping from a provider's failure to what our API answers: a rejected key is 422
 * `provider_auth_failed`; anything else (unreachable, throttled, failing, refusing) is 502
 * `provider_unavailable`. `details` carry the provider's status and code, `cause` the classified
 * error. Any other value comes back as it is. A caller that knows what a `permanent` refusal means
 * for its request (a Brevo list that does not exist) answers that case itself before calling this.
 */
export function toApiError(error: unknown): unknown {
  if (!isProviderError(error)) return error;
  const provider = providerDisplayName(error.provider);
  const options = { details: { statusCode: error.statusCode, providerCode: error.providerCode }, cause: error };
  return error.kind === 'auth' ? Errors.providerAuthFailed(provider, options) : Errors.providerUnavailable(provider, options);
}

function describe(init: ProviderErrorInit, summary: string): string {
  const parts = [`${providerDisplayName(init.provider)} ${summary}`];
  const answer = [
    init.statusCode === undefined ? undefined : `HTTP ${init.statusCode}`,
    init.providerCode,
  ].filter((part) => part !== undefined);
  if (answer.length > 0) parts.push(`(${answer.join(' ')}${init.providerMessage ? `: ${init.providerMessage}` : ''})`);
  else if (init.providerMessage) parts.push(`(${init.providerMessage})`);
  if (init.operation) parts.push(`on ${init.operation}`);
  return parts.join(' ');
}
