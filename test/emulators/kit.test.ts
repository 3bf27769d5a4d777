import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../dev/emulators/cli-args';
import { isInvalidEmail } from '../../dev/emulators/kit/email';
import { FaultInjector } from '../../dev/emulators/kit/faults';
import { RateLimiter, SlidingWindow } from '../../dev/emulators/kit/rate-limits';
import { RequestLog, type RecordedRequest } from '../../dev/emulators/kit/request-log';

describe('SlidingWindow', () => {
  it('lets `limit` requests through per window and says when the next slot frees', () => {
    const window = new SlidingWindow({ requests: 2, windowMs: 1000 });
    expect(window.waitMs(0)).toBe(0);
    window.take(0);
    window.take(100);
    expect(window.remaining(500)).toBe(0);
    expect(window.waitMs(500)).toBe(500);
    expect(window.resetInMs(500)).toBe(500);
    expect(window.waitMs(1000)).toBe(0);
    window.take(1000);
    expect(window.waitMs(1050)).toBe(50);
    expect(window.remaining(2100)).toBe(2);
  });
});

describe('RateLimiter', () => {
  function limiter(options: { unthrottled?: boolean; maxHistory?: number; rateScale?: number } = {}) {
    let now = 0;
    const rates = new RateLimiter({
      buckets: [
        { name: 'a', limits: [{ requests: 3, windowMs: 1000 }] },
        { name: 'b', limits: [{ requests: 1, windowMs: 1000 }] },
      ],
      rateScale: options.rateScale ?? 1,
      unthrottled: options.unthrottled ?? false,
      maxHistory: options.maxHistory ?? 1000,
      now: () => now,
      keyIndex: (keyId) => Number(keyId.slice(3)),
    });
    return { rates, at: (ms: number) => (now = ms) };
  }

  it('refuses a request when any of its buckets is full, and then takes no slot anywhere', () => {
    const { rates, at } = limiter();
    at(0);
    expect(rates.acquire(['a', 'b'], 'account', 'key1')).toEqual({ ok: true });
    at(10);
    expect(rates.acquire(['a', 'b'], 'account', 'key1')).toEqual({ ok: false, bucket: 'b', retryAfterMs: 990 });
    expect(rates.status('a', 'account')).toEqual({ limit: 3, remaining: 2, resetInMs: 990 });
  });

  it('finds the most requests in any window of a given length, per key or for all', () => {
    const { rates, at } = limiter({ unthrottled: true });
    for (const [ms, key] of [[0, 'key1'], [100, 'key2'], [900, 'key1'], [1000, 'key1'], [1050, 'key2'], [1899, 'key1'], [5000, 'key1']] as const) {
      at(ms);
      rates.acquire(['a'], 'account', key);
    }
    expect(rates.maxRequestsInAnyWindow('a', 1000)).toBe(4);
    expect(rates.maxRequestsInAnyWindow('a', 1000, { keyId: 'key1' })).toBe(3);
    expect(rates.maxRequestsInAnyWindow('a', 100)).toBe(2);
    expect(rates.maxRequestsInAnyWindow('nothing', 1000)).toBe(0);
    expect(rates.stats('a')).toEqual({ requests: 7, throttled: 0, firstAtMs: 0, lastAtMs: 5000, spanMs: 5000, requestsPerSecond: 1.2 });
  });

  it('keeps its history bounded by dropping the oldest half', () => {
    const { rates, at } = limiter({ unthrottled: true, maxHistory: 4 });
    for (let ms = 0; ms < 5; ms += 1) {
      at(ms * 10);
      rates.acquire(['a'], 'account', 'key1');
    }
    expect(rates.stats('a')).toMatchObject({ requests: 3, firstAtMs: 20, lastAtMs: 40 });
  });

  it('reports the longest wait when several windows of a bucket are full', () => {
    let now = 0;
    const rates = new RateLimiter({
      buckets: [{ name: 'contacts', limits: [{ requests: 1, windowMs: 1000 }, { requests: 2, windowMs: 3_600_000 }] }],
      rateScale: 1,
      unthrottled: false,
      maxHistory: 100,
      now: () => now,
      keyIndex: () => 1,
    });
    rates.acquire(['contacts'], 'account', 'key1');
    now = 2000;
    rates.acquire(['contacts'], 'account', 'key1');
    now = 2100;
    expect(rates.acquire(['contacts'], 'account', 'key1')).toEqual({ ok: false, bucket: 'contacts', retryAfterMs: 3_597_900 });
    expect(rates.status('contacts', 'account')).toEqual({ limit: 2, remaining: 0, resetInMs: 3_597_900 });
  });

  it('scales limits but never below one request', () => {
    const { rates } = limiter({ rateScale: 0.1 });
    expect(rates.limitsOf('a')).toEqual([{ requests: 1, windowMs: 1000 }]);
  });
});

describe('FaultInjector', () => {
  it('injects nothing by default and exactly what is asked with shares of 1', () => {
    const faults = new FaultInjector(1);
    expect(faults.decide('/api/x')).toEqual({ reset: false, delayMs: 0, throttleMs: 0, serverError: null, loseResponse: false, lateMs: 0 });
    faults.set({ serverErrorShare: 1, serverErrorStatus: 503, slowDelayMs: 25 });
    expect(faults.decide('/api/x')).toMatchObject({ serverError: 503, delayMs: 25 });
    faults.clear();
    expect(faults.decide('/api/x').serverError).toBeNull();
  });

  it('counts down nextServerErrors and honours pathPrefix', () => {
    const faults = new FaultInjector(1, { nextServerErrors: 2, serverErrorStatus: 500, pathPrefix: '/api/lists/subscribe' });
    expect(faults.decide('/api/lists').serverError).toBeNull();
    expect(faults.decide('/api/lists/subscribe').serverError).toBe(500);
    expect(faults.decide('/api/lists/subscribe').serverError).toBe(500);
    expect(faults.decide('/api/lists/subscribe').serverError).toBeNull();
  });

  it('counts down nextLostResponses and nextLateAnswers, one request each', () => {
    const faults = new FaultInjector(1, { nextLostResponses: 1, nextLateAnswers: 1, lateAnswerMs: 600, pathPrefix: '/api/batches' });
    expect(faults.decide('/api/contacts')).toMatchObject({ loseResponse: false, lateMs: 0 });
    expect(faults.decide('/api/batches')).toMatchObject({ loseResponse: true, lateMs: 600 });
    expect(faults.decide('/api/batches')).toMatchObject({ loseResponse: false, lateMs: 0 });
  });

  it('hits about the share asked for, reproducibly from the seed', () => {
    const count = (seed: number) => {
      const faults = new FaultInjector(seed, { resetShare: 0.25 });
      let resets = 0;
      for (let i = 0; i < 4000; i += 1) if (faults.decide('/').reset) resets += 1;
      return resets;
    };
    expect(count(7)).toBe(count(7));
    expect(count(7)).toBeGreaterThan(900);
    expect(count(7)).toBeLessThan(1100);
  });

  it('refuses shares outside 0..1', () => {
    expect(() => new FaultInjector(1).set({ serverErrorShare: 2 })).toThrow();
  });
});

describe('RequestLog', () => {
  const entry = (seq: number, status: number): RecordedRequest => ({
    seq,
    method: 'GET',
    path: '/x',
    query: '',
    route: 'GET /x',
    status,
    keyId: 'key1',
    startedAt: 0,
    durationMs: 1,
  });

  it('counts every request and keeps only the most recent ones', () => {
    const log = new RequestLog(2);
    [200, 201, 429, 503, 404, 0].forEach((status, index) => log.record(entry(index + 1, status)));
    expect(log.entries().map((recorded) => recorded.seq)).toEqual([5, 6]);
    expect(log.counts).toMatchObject({ total: 6, status2xx: 2, status4xx: 1, status429: 1, status5xx: 1, resets: 1, byRoute: { 'GET /x': 6 } });
  });
});

describe('isInvalidEmail', () => {
  it('accepts ordinary addresses and rejects bad syntax and the .invalid TLD', () => {
    for (const email of ['a@example.com', 'first.last+tag@sub.example.co.uk', "o'neil@example.org"]) expect(isInvalidEmail(email)).toBe(false);
    for (const email of ['', 'plain', 'a@b', 'a @example.com', 'a@@example.com', 'a@-example.com', 'x@example.invalid', `${'a'.repeat(250)}@example.com`]) {
      expect(isInvalidEmail(email)).toBe(true);
    }
  });
});

describe('parseCliArgs', () => {
  it('turns flags into emulator options', () => {
    expect(parseCliArgs(['--port-brevo', '4011', '--rate-scale', '20', '--key', 'k1', '--key', 'k2', '--async-delay-ms', '0'])).toEqual({
      kind: 'start',
      options: {
        iterable: { port: undefined },
        brevo: { port: 4011 },
        omnisend: { port: undefined },
        rateScale: 20,
        apiKeys: ['k1', 'k2'],
        asyncDelayMs: 0,
      },
    });
    expect(parseCliArgs(['--unthrottled', '--record-bodies'])).toMatchObject({ options: { unthrottled: true, recordBodies: true } });
    expect(parseCliArgs(['--help'])).toEqual({ kind: 'help' });
  });

  it('names bad arguments', () => {
    expect(() => parseCliArgs(['--port-iterable', 'abc', '--rate-scale', '0'])).toThrow(/port-iterable[\s\S]*rate-scale/);
    expect(() => parseCliArgs(['--nope'])).toThrow();
  });
});
