import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ProviderAuthError,
  ProviderPermanentError,
  ProviderThrottledError,
  ProviderTransientError,
  type RateSignal,
} from '../../../src/providers';
import { ProviderHttpClient, readRetryAfterMs } from '../../../src/providers/http';

const ORIGIN = 'https://api.example.test';
const SECRET = 'super-secret-key-123';

let agent: MockAgent;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
});

afterEach(async () => {
  await agent.close();
});

function client(options: { retries?: number; idempotent?: boolean } = {}) {
  return new ProviderHttpClient({
    provider: 'brevo',
    baseUrl: `${ORIGIN}/v3`,
    credentialHeaders: { 'api-key': SECRET },
    headers: { 'x-extra': 'yes' },
    secret: SECRET,
    dispatcher: agent,
    retry: { maxRetries: options.retries ?? 2, baseDelayMs: 1, maxDelayMs: 5 },
    defaultThrottleWaitMs: 777,
  });
}

const pool = () => agent.get(ORIGIN);
const get = { method: 'GET' as const, path: '/thing', schema: z.object({ ok: z.boolean() }) };

describe('reading the wait a provider asked for', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads Retry-After in seconds or as an HTTP date, and retry-after-ms', () => {
    expect(readRetryAfterMs({ 'retry-after': '3' }, undefined, now)).toBe(3_000);
    expect(readRetryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, undefined, now)).toBe(5_000);
    expect(readRetryAfterMs({ 'retry-after-ms': '250' }, undefined, now)).toBe(250);
  });

  it("reads Brevo's x-sib-ratelimit-reset and a problem body's retryAfter, in seconds", () => {
    expect(readRetryAfterMs({ 'x-sib-ratelimit-reset': '7' }, undefined, now)).toBe(7_000);
    expect(readRetryAfterMs({}, { type: 'https://problems.omnisend.com/rate-limit-exceeded', retryAfter: 12 }, now)).toBe(12_000);
  });

  it('takes the longest when several are given, and nothing when none is', () => {
    expect(readRetryAfterMs({ 'retry-after': '1', 'x-sib-ratelimit-reset': '4' }, { retryAfter: 2 }, now)).toBe(4_000);
    expect(readRetryAfterMs({ 'retry-after': 'soon' }, { detail: 'x' }, now)).toBeUndefined();
  });

  it('never answers a negative wait for a date in the past', () => {
    expect(readRetryAfterMs({ 'retry-after': 'Wed, 31 Dec 2025 23:59:00 GMT' }, undefined, now)).toBe(0);
  });
});

describe('the provider HTTP client', () => {
  it('sends the credential and default headers to its own origin and validates the body', async () => {
    let seen: Record<string, string> = {};
    pool()
      .intercept({ path: '/v3/thing', method: 'GET' })
      .reply((request) => {
        seen = request.headers as Record<string, string>;
        return { statusCode: 200, data: { ok: true } };
      });
    const response = await client().request(get);
    expect(response.data).toEqual({ ok: true });
    expect(seen['api-key']).toBe(SECRET);
    expect(seen['x-extra']).toBe('yes');
  });

  it('never sends the key to another origin (a file URL the provider handed out)', async () => {
    let seen: Record<string, string> = {};
    agent
      .get('https://files.example.test')
      .intercept({ path: '/invalid.csv', method: 'GET' })
      .reply((request) => {
        seen = request.headers as Record<string, string>;
        return { statusCode: 200, data: 'email\na@b.co\n' };
      });
    const response = await client().request({ method: 'GET', path: 'https://files.example.test/invalid.csv', schema: z.string(), responseType: 'text' });
    expect(response.data).toBe('email\na@b.co\n');
    expect(seen['api-key']).toBeUndefined();
  });

  it('classifies a 429 as throttled with the provided wait, or the default when none is given', async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(429, { code: 'too_many_requests', message: 'slow down' }, { headers: { 'x-sib-ratelimit-reset': '9' } });
    const provided = await client().request(get).catch((error: unknown) => error);
    expect(provided).toBeInstanceOf(ProviderThrottledError);
    expect(provided).toMatchObject({ statusCode: 429, retryAfterMs: 9_000, retryAfterSource: 'provider', providerCode: 'too_many_requests', attempts: 1 });

    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(429, { msg: 'Rate limit exceeded', code: 'RateLimitExceeded' });
    const defaulted = await client().request(get).catch((error: unknown) => error);
    expect(defaulted).toMatchObject({ retryAfterMs: 777, retryAfterSource: 'default', providerCode: 'RateLimitExceeded' });
  });

  it('classifies 401 and 403 as auth, once, without retrying', async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(401, { code: 'unauthorized', message: 'Key not found' });
    const error = await client().request(get).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error).toMatchObject({ code: 'provider_auth', statusCode: 401, providerCode: 'unauthorized', providerMessage: 'Key not found', attempts: 1 });
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(403, { code: 'permission_denied', message: 'IP not allowed' });
    await expect(client().request(get)).rejects.toBeInstanceOf(ProviderAuthError);
  });

  it("keeps the provider's own code and message on a permanent error, in each provider's shape", async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(400, { msg: 'listId is missing', code: 'BadParams', params: null });
    await expect(client().request(get)).rejects.toMatchObject({ providerCode: 'BadParams', providerMessage: 'listId is missing' });
    pool()
      .intercept({ path: '/v3/thing', method: 'GET' })
      .reply(400, {
        type: 'https://problems.omnisend.com/validation-failed',
        title: 'Validation failed',
        errors: [{ field: 'identifiers[0].id', message: 'invalid email' }],
      });
    const problem = await client().request(get).catch((caught: unknown) => caught);
    expect(problem).toBeInstanceOf(ProviderPermanentError);
    expect(problem).toMatchObject({
      code: 'provider_permanent',
      providerCode: 'https://problems.omnisend.com/validation-failed',
      providerMessage: 'Validation failed; identifiers[0].id: invalid email',
    });
  });

  it('never lets the key into an error, even when the provider echoes it', async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(400, { code: 'bad', message: `key ${SECRET} is malformed` });
    const error = (await client().request(get).catch((caught: unknown) => caught)) as Error;
    expect(error.message).not.toContain(SECRET);
    expect(JSON.stringify(error)).not.toContain(SECRET);
    expect(error.message).toContain('[redacted]');
  });

  it('retries a 503 and a reset connection, then succeeds', async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(503, { code: 'service_unavailable' });
    pool().intercept({ path: '/v3/thing', method: 'GET' }).replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(200, { ok: true });
    const retries: number[] = [];
    const response = await client().request(get, { beforeRetry: ({ attempt }) => void retries.push(attempt) });
    expect(response.data).toEqual({ ok: true });
    expect(retries).toEqual([1, 2]);
  });

  it('gives up after its retries with a transient error counting the attempts', async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(500, { code: 'internal_error' }).times(3);
    const error = await client({ retries: 2 }).request(get).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error).toMatchObject({ code: 'provider_transient', statusCode: 500, attempts: 3 });
  });

  it('does not send a non-idempotent request again after a 5xx (it may have been applied)', async () => {
    pool().intercept({ path: '/v3/lists', method: 'POST' }).reply(503, {});
    const error = await client()
      .request({ method: 'POST', path: '/lists', json: { name: 'x' }, schema: z.unknown(), idempotent: false })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ kind: 'transient', attempts: 1 });
  });

  it('times out a slow answer as transient', async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(200, { ok: true }).delay(200);
    const error = await client({ retries: 0 }).request(get, { timeoutInMs: 20 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderTransientError);
    expect(error).toMatchObject({ providerCode: 'timeout' });
  });

  it("hands the caller's abort back as it is, unclassified", async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(200, { ok: true }).delay(200);
    const controller = new AbortController();
    const reason = new Error('cancelled by the run');
    setTimeout(() => controller.abort(reason), 10);
    await expect(client().request(get, { abortSignal: controller.signal })).rejects.toBe(reason);
  });

  it('refuses a 2xx body that does not have the documented shape', async () => {
    pool().intercept({ path: '/v3/thing', method: 'GET' }).reply(200, { ok: 'yes' });
    await expect(client().request(get)).rejects.toMatchObject({ kind: 'permanent', providerCode: 'unexpected_response' });
  });

  it('refuses to send a body over the provider limit', async () => {
    const error = await client()
      .request({ method: 'POST', path: '/big', json: { data: 'x'.repeat(2_000) }, schema: z.unknown(), maxBodyBytes: 1_000 })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ kind: 'permanent', providerCode: 'payload_too_large', attempts: 0 });
  });

  it('turns an answer the caller knows to be success into data (recover)', async () => {
    pool().intercept({ path: '/v3/remove', method: 'POST' }).reply(400, { code: 'invalid_parameter', message: 'Contact already in list and/or does not exist' });
    const response = await client().request({
      method: 'POST',
      path: '/remove',
      json: { emails: ['a@b.co'] },
      schema: z.object({ removed: z.boolean() }),
      recover: ({ statusCode }) => (statusCode === 400 ? { removed: true } : undefined),
    });
    expect(response.data).toEqual({ removed: true });
  });

  it("reports Brevo's rate-limit headers as a signal for the request's bucket", async () => {
    pool()
      .intercept({ path: '/v3/thing', method: 'GET' })
      .reply(200, { ok: true }, { headers: { 'x-sib-ratelimit-limit': '10', 'x-sib-ratelimit-remaining': '0', 'x-sib-ratelimit-reset': '1' } });
    const signals: RateSignal[] = [];
    await client().request({ ...get, bucket: 'contacts' }, { onRateSignal: (signal) => signals.push(signal) });
    expect(signals).toEqual([{ bucket: 'contacts', remaining: 0, resetInMs: 1_000 }]);
  });
});
