// What a sender does with each provider answer, as one pure decision: the sender performs a
// request, describes the outcome, and carries out the action this table gives. Unit tests read it
// as a table. A permanent 4xx refusal of several records is bisected (`bisect.ts`), of one record
// it rejects that record; other permanent failures give the chunk up.
import { isProviderErrorKind } from '../../providers/errors';

/** Transient failures in a row before a chunk is given up. */
export const MAX_TRANSIENT_ATTEMPTS = 8;
/**
 * Queue delays are whole seconds, so a wait shorter than this is paced in place (the governor's
 * next token is usually a few hundred milliseconds away at 5 requests/s); anything longer, and every
 * provider 429, goes back to the queue with a visibility delay.
 */
export const MAX_PACING_WAIT_IN_MS = 1_000;
const MAX_BACKOFF_IN_MS = 60_000;
const FIRST_BACKOFF_IN_MS = 1_000;

export type DeliveryOutcome =
  /** The request succeeded and the chunk is delivered. */
  | { kind: 'done' }
  /** The request succeeded and another is needed, maybe after `notBeforeMs`. */
  | { kind: 'next'; notBeforeMs?: number; pastDeadline: boolean }
  /**
   * The request failed; `transientAttempts` is the count of transient failures in a row before it,
   * `records` how many records the request carried (the chunk's, or the part being bisected).
   */
  | { kind: 'failed'; error: unknown; transientAttempts: number; records: number };

export type DeliveryAction =
  | { kind: 'confirm' }
  /** Go on with the next request after `waitMs` here. */
  | { kind: 'continue'; waitMs: number }
  /** Save the progress and put the chunk back on its queue for `delayMs`. */
  | { kind: 'requeue'; delayMs: number; transientAttempts: number; lastError?: string }
  /** The provider throttled the account: pause every worker of it until `pauseMs` from now, then requeue. */
  | { kind: 'throttled'; pauseMs: number; escalate: boolean }
  /**
   * The provider refused these records as a whole (a permanent 4xx): deliver them again in two
   * halves, recursively, to isolate the records that cause the refusal (`bisect.ts`).
   */
  | { kind: 'bisect' }
  /** The provider refused the one record being delivered: it is a `provider_rejected` reject with this reason. */
  | { kind: 'reject-record'; reason: string }
  /** Give this chunk up: its records count as failed. */
  | { kind: 'fail-chunk'; reason: string }
  /** The key was refused: stop the whole run (every remaining chunk fails without a call). */
  | { kind: 'abort-run'; reason: string }
  /** Not a provider answer we know: let the host retry the message (and poison it in the end). */
  | { kind: 'rethrow' };

export interface PolicyOptions {
  /** In [0, 1): the jitter of a backoff. */
  random: () => number;
}

export function decideDelivery(outcome: DeliveryOutcome, options: PolicyOptions): DeliveryAction {
  if (outcome.kind === 'done') return { kind: 'confirm' };
  if (outcome.kind === 'next') {
    const waitMs = outcome.notBeforeMs ?? 0;
    if (waitMs > MAX_PACING_WAIT_IN_MS) return { kind: 'requeue', delayMs: waitMs, transientAttempts: 0 };
    if (outcome.pastDeadline) return { kind: 'requeue', delayMs: 0, transientAttempts: 0 };
    return { kind: 'continue', waitMs };
  }
  const { error } = outcome;
  if (isProviderErrorKind(error, 'throttled')) return { kind: 'throttled', pauseMs: error.retryAfterMs, escalate: error.retryAfterSource === 'default' };
  if (isProviderErrorKind(error, 'auth')) {
    return { kind: 'abort-run', reason: `The provider refused the connection's API key (${error.message}); fix the connection and run again` };
  }
  if (isProviderErrorKind(error, 'permanent')) {
    if (!isRecordRefusal(error.statusCode)) return { kind: 'fail-chunk', reason: error.message };
    return outcome.records > 1 ? { kind: 'bisect' } : { kind: 'reject-record', reason: error.message };
  }
  if (isProviderErrorKind(error, 'transient')) return afterTransientFailure(error.message, outcome.transientAttempts + 1, options);
  return { kind: 'rethrow' };
}

/**
 * A refusal that a record can cause: an HTTP 4xx answer other than the key's (401, 403) and the
 * rate limit's (429). A refusal without an answer (our own body check) or a 2xx that did not
 * parse says nothing about the records.
 */
function isRecordRefusal(statusCode: number | undefined): boolean {
  return statusCode !== undefined && statusCode >= 400 && statusCode < 500 && ![401, 403, 408, 429].includes(statusCode);
}

/** Exponential backoff with jitter, up to a minute; the chunk is given up after `MAX_TRANSIENT_ATTEMPTS`. */
function afterTransientFailure(message: string, attempts: number, options: PolicyOptions): DeliveryAction {
  if (attempts > MAX_TRANSIENT_ATTEMPTS) return { kind: 'fail-chunk', reason: `Gave up after ${attempts - 1} transient failures: ${message}` };
  const delayMs = Math.min(MAX_BACKOFF_IN_MS, FIRST_BACKOFF_IN_MS * 2 ** (attempts - 1)) * (0.5 + options.random() / 2);
  return { kind: 'requeue', delayMs, transientAttempts: attempts, lastError: message };
}
