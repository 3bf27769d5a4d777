import { describe, expect, it } from 'vitest';
import {
  ProviderAuthError,
  ProviderPermanentError,
  ProviderThrottledError,
  ProviderTransientError,
} from '../../../src/providers/errors';
import { decideDelivery, MAX_PACING_WAIT_IN_MS, MAX_TRANSIENT_ATTEMPTS, type DeliveryAction, type DeliveryOutcome } from '../../../src/pipeline/send/policy';

const provider = 'iterable' as const;
const throttled = (retryAfterSource: 'provider' | 'default') =>
  new ProviderThrottledError({ provider, statusCode: 429, retryAfterMs: 2_500, retryAfterSource });
const transient = new ProviderTransientError({ provider, statusCode: 503, providerMessage: 'busy' });
const auth = new ProviderAuthError({ provider, statusCode: 401, providerCode: 'BadApiKey' });
const permanent = new ProviderPermanentError({ provider, statusCode: 400, providerCode: 'BadParams' });
const failed = (error: unknown, transientAttempts = 0, records = 1_000): DeliveryOutcome => ({ kind: 'failed', error, transientAttempts, records });
const refused = (statusCode: number | undefined) => new ProviderPermanentError({ provider, statusCode, providerCode: 'BadParams', providerMessage: 'subscribers[3].email: Invalid email' });

/** Jitter at its middle: backoffs are exactly 0.75 x the base. */
const middle = { random: () => 0.5 };

describe('decideDelivery', () => {
  it.each<[string, DeliveryOutcome, DeliveryAction | ((action: DeliveryAction) => void)]>([
    ['the last step done: confirm the chunk', { kind: 'done' }, { kind: 'confirm' }],
    ['another step, no wait: go on at once', { kind: 'next', pastDeadline: false }, { kind: 'continue', waitMs: 0 }],
    ['another step after a short wait: wait in place', { kind: 'next', notBeforeMs: 400, pastDeadline: false }, { kind: 'continue', waitMs: 400 }],
    ['another step at the pacing limit: still in place', { kind: 'next', notBeforeMs: MAX_PACING_WAIT_IN_MS, pastDeadline: false }, { kind: 'continue', waitMs: MAX_PACING_WAIT_IN_MS }],
    ['another step after a long wait: back to the queue for it', { kind: 'next', notBeforeMs: 30_000, pastDeadline: false }, { kind: 'requeue', delayMs: 30_000, transientAttempts: 0 }],
    ['another step past the invocation budget: back to the queue now', { kind: 'next', notBeforeMs: 100, pastDeadline: true }, { kind: 'requeue', delayMs: 0, transientAttempts: 0 }],
    ['a 429 with the provider\'s wait: pause the account for it', failed(throttled('provider')), { kind: 'throttled', pauseMs: 2_500, escalate: false }],
    ['a 429 that names no wait: pause and let repeats escalate', failed(throttled('default')), { kind: 'throttled', pauseMs: 2_500, escalate: true }],
    ['a refused key: abort the whole run', failed(auth), (action) => expect(action).toMatchObject({ kind: 'abort-run', reason: expect.stringMatching(/refused the connection's API key/) })],
    ['a permanent 4xx refusal of many records: split them in halves', failed(permanent), { kind: 'bisect' }],
    ['a permanent 4xx refusal of two records: split them too', failed(permanent, 0, 2), { kind: 'bisect' }],
    ['a permanent 4xx refusal of one record: reject that record with the provider\'s message', failed(refused(400), 0, 1), { kind: 'reject-record', reason: refused(400).message }],
    ['a 413 of many records: split them (a smaller body may pass)', failed(refused(413)), { kind: 'bisect' }],
    ['a 404 (the list is gone) of many records: split as well, each half is refused and rejected', failed(refused(404)), { kind: 'bisect' }],
    ['a permanent refusal without an answer (our own body check): fail this chunk', failed(refused(undefined)), (action) => expect(action).toMatchObject({ kind: 'fail-chunk', reason: refused(undefined).message })],
    ['a 2xx that did not parse: fail this chunk, the records are not to blame', failed(refused(200)), (action) => expect(action).toMatchObject({ kind: 'fail-chunk' })],
    ['a permanent 403 is never bisected: abort (it is the key)', failed(new ProviderAuthError({ provider, statusCode: 403 })), (action) => expect(action).toMatchObject({ kind: 'abort-run' })],
    ['a permanent-classified 403 or 429 is never bisected either', failed(refused(403)), (action) => expect(action).toMatchObject({ kind: 'fail-chunk' })],
    ['a permanent-classified 429 is not bisected', failed(refused(429)), (action) => expect(action).toMatchObject({ kind: 'fail-chunk' })],
    ['a first transient failure: back to the queue after 0.75 s', failed(transient, 0), { kind: 'requeue', delayMs: 750, transientAttempts: 1, lastError: transient.message }],
    ['a fourth transient failure: 6 s', failed(transient, 3), { kind: 'requeue', delayMs: 6_000, transientAttempts: 4, lastError: transient.message }],
    ['backoff stops growing at a minute', failed(transient, MAX_TRANSIENT_ATTEMPTS - 1), { kind: 'requeue', delayMs: 45_000, transientAttempts: MAX_TRANSIENT_ATTEMPTS, lastError: transient.message }],
    ['one transient failure too many: give the chunk up', failed(transient, MAX_TRANSIENT_ATTEMPTS), (action) => expect(action).toMatchObject({ kind: 'fail-chunk', reason: expect.stringMatching(/^Gave up after 8 transient failures/) })],
    ['anything else: rethrow for the host to retry', failed(new TypeError('a bug')), { kind: 'rethrow' }],
  ])('%s', (_name, outcome, expected) => {
    const action = decideDelivery(outcome, middle);
    if (typeof expected === 'function') expected(action);
    else expect(action).toEqual(expected);
  });

  it('jitters a backoff between half and all of its base', () => {
    expect(decideDelivery(failed(transient, 1), { random: () => 0 })).toMatchObject({ delayMs: 1_000 });
    expect(decideDelivery(failed(transient, 1), { random: () => 0.999_999 })).toMatchObject({ delayMs: expect.closeTo(2_000, 0) });
  });
});
