/** A limit of `requests` per sliding window of `windowMs`. */
export interface RateLimit {
  requests: number;
  windowMs: number;
}

/**
 * A sliding window as a ring of the accepted requests' times: O(1) amortised per request and
 * memory bounded by the limit, so a 36,000/hour window costs 288 KB, not a scan.
 */
export class SlidingWindow {
  readonly limit: number;
  readonly windowMs: number;
  private readonly times: Float64Array;
  private head = 0;
  private size = 0;

  constructor(limit: RateLimit) {
    this.limit = limit.requests;
    this.windowMs = limit.windowMs;
    this.times = new Float64Array(this.limit);
  }

  private expire(nowMs: number): void {
    while (this.size > 0 && nowMs - this.times[this.head]! >= this.windowMs) {
      this.head = (this.head + 1) % this.limit;
      this.size -= 1;
    }
  }

  /** 0 when a request may pass now, otherwise how long until a slot frees. */
  waitMs(nowMs: number): number {
    this.expire(nowMs);
    return this.size < this.limit ? 0 : this.times[this.head]! + this.windowMs - nowMs;
  }

  take(nowMs: number): void {
    this.times[(this.head + this.size) % this.limit] = nowMs;
    this.size += 1;
  }

  remaining(nowMs: number): number {
    this.expire(nowMs);
    return this.limit - this.size;
  }

  /** Time until the oldest request in the window leaves it (0 when the window is empty). */
  resetInMs(nowMs: number): number {
    this.expire(nowMs);
    return this.size === 0 ? 0 : this.times[this.head]! + this.windowMs - nowMs;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }
}

export interface WindowStatus {
  limit: number;
  remaining: number;
  resetInMs: number;
}

export type AcquireResult = { ok: true } | { ok: false; bucket: string; retryAfterMs: number };

export interface BucketDefinition {
  name: string;
  limits: RateLimit[];
}

/** Requests seen by one bucket: times (ms, monotonic), who sent them and whether they were throttled. */
class BucketHistory {
  private times = new Float64Array(1024);
  private keys = new Uint16Array(1024);
  private throttled = new Uint8Array(1024);
  length = 0;

  constructor(private readonly maxEntries: number) {}

  add(timeMs: number, keyIndex: number, wasThrottled: boolean): void {
    if (this.length === this.maxEntries) this.dropOldestHalf();
    if (this.length === this.times.length) this.grow();
    this.times[this.length] = timeMs;
    this.keys[this.length] = keyIndex;
    this.throttled[this.length] = wasThrottled ? 1 : 0;
    this.length += 1;
  }

  private grow(): void {
    const capacity = Math.min(this.times.length * 2, this.maxEntries);
    const times = new Float64Array(capacity);
    const keys = new Uint16Array(capacity);
    const throttled = new Uint8Array(capacity);
    times.set(this.times);
    keys.set(this.keys);
    throttled.set(this.throttled);
    this.times = times;
    this.keys = keys;
    this.throttled = throttled;
  }

  private dropOldestHalf(): void {
    const half = Math.floor(this.length / 2);
    this.times.copyWithin(0, half, this.length);
    this.keys.copyWithin(0, half, this.length);
    this.throttled.copyWithin(0, half, this.length);
    this.length -= half;
  }

  /** The selected times, in arrival order (which is time order: one clock, one thread). */
  select(keyIndex: number | undefined, includeThrottled: boolean): { times: Float64Array; throttledCount: number } {
    const out = new Float64Array(this.length);
    let count = 0;
    let throttledCount = 0;
    for (let i = 0; i < this.length; i += 1) {
      if (keyIndex !== undefined && this.keys[i] !== keyIndex) continue;
      if (this.throttled[i] === 1) {
        throttledCount += 1;
        if (!includeThrottled) continue;
      }
      out[count] = this.times[i]!;
      count += 1;
    }
    return { times: out.subarray(0, count), throttledCount };
  }
}

export interface RateQueryOptions {
  /** Only this key's requests (`emulator.keyIdOf(key)`). */
  keyId?: string;
  /** Count requests that were answered 429 by the limiter (default true: what the client sent). */
  includeThrottled?: boolean;
}

export interface RateStats {
  requests: number;
  throttled: number;
  firstAtMs: number | null;
  lastAtMs: number | null;
  spanMs: number;
  /** Requests per second between the first and the last request (0 with fewer than two). */
  requestsPerSecond: number;
}

export interface RateLimiterOptions {
  buckets: BucketDefinition[];
  rateScale: number;
  unthrottled: boolean;
  maxHistory: number;
  now: () => number;
  /** keyId -> small integer, for the history. */
  keyIndex: (keyId: string) => number;
}

/**
 * Every rate limit of one emulator: buckets of sliding windows, one set per scope (a key or the
 * whole account), plus a history of every request per bucket for governor assertions.
 */
export class RateLimiter {
  private readonly definitions: Map<string, RateLimit[]>;
  private readonly windows = new Map<string, SlidingWindow[]>();
  private readonly histories = new Map<string, BucketHistory>();

  constructor(private readonly options: RateLimiterOptions) {
    const scale = options.rateScale;
    this.definitions = new Map(
      options.buckets.map((bucket) => [
        bucket.name,
        bucket.limits.map((limit) => ({
          requests: Math.max(1, Math.round(limit.requests * scale)),
          windowMs: limit.windowMs,
        })),
      ]),
    );
  }

  /** The limits in force (scaled). */
  limitsOf(bucket: string): readonly RateLimit[] {
    return this.definitions.get(bucket) ?? [];
  }

  private windowsOf(bucket: string, scope: string): SlidingWindow[] {
    const id = `${bucket}\u0000${scope}`;
    let windows = this.windows.get(id);
    if (!windows) {
      windows = (this.definitions.get(bucket) ?? []).map((limit) => new SlidingWindow(limit));
      this.windows.set(id, windows);
    }
    return windows;
  }

  private historyOf(bucket: string): BucketHistory {
    let history = this.histories.get(bucket);
    if (!history) {
      history = new BucketHistory(this.options.maxHistory);
      this.histories.set(bucket, history);
    }
    return history;
  }

  /** Takes a slot in every window of every bucket, or none when one of them is full. */
  acquire(buckets: readonly string[], scope: string, keyId: string): AcquireResult {
    const now = this.options.now();
    const keyIndex = this.options.keyIndex(keyId);
    let refused: AcquireResult = { ok: true };
    if (!this.options.unthrottled) {
      for (const bucket of buckets) {
        for (const window of this.windowsOf(bucket, scope)) {
          const waitMs = window.waitMs(now);
          if (waitMs > 0 && (refused.ok || waitMs > refused.retryAfterMs)) {
            refused = { ok: false, bucket, retryAfterMs: waitMs };
          }
        }
      }
      if (refused.ok) {
        for (const bucket of buckets) for (const window of this.windowsOf(bucket, scope)) window.take(now);
      }
    }
    for (const bucket of buckets) this.historyOf(bucket).add(now, keyIndex, !refused.ok);
    return refused;
  }

  /** The tightest window of a bucket (fewest remaining), for rate-limit headers. */
  status(bucket: string, scope: string): WindowStatus | undefined {
    if (this.options.unthrottled) return undefined;
    const now = this.options.now();
    let tightest: WindowStatus | undefined;
    for (const window of this.windowsOf(bucket, scope)) {
      const remaining = window.remaining(now);
      const resetInMs = window.resetInMs(now);
      // Between two full windows the longer wait is the true one (a full hour beats a full second).
      if (!tightest || remaining < tightest.remaining || (remaining === tightest.remaining && resetInMs > tightest.resetInMs)) {
        tightest = { limit: window.limit, remaining, resetInMs };
      }
    }
    return tightest;
  }

  maxRequestsInAnyWindow(bucket: string, windowMs: number, query: RateQueryOptions = {}): number {
    const times = this.selectTimes(bucket, query).times;
    let max = 0;
    let first = 0;
    for (let last = 0; last < times.length; last += 1) {
      while (times[last]! - times[first]! >= windowMs) first += 1;
      max = Math.max(max, last - first + 1);
    }
    return max;
  }

  stats(bucket: string, query: Omit<RateQueryOptions, 'includeThrottled'> = {}): RateStats {
    const { times, throttledCount } = this.selectTimes(bucket, { ...query, includeThrottled: true });
    const requests = times.length;
    const firstAtMs = requests > 0 ? times[0]! : null;
    const lastAtMs = requests > 0 ? times[requests - 1]! : null;
    const spanMs = firstAtMs === null || lastAtMs === null ? 0 : lastAtMs - firstAtMs;
    return {
      requests,
      throttled: throttledCount,
      firstAtMs,
      lastAtMs,
      spanMs,
      requestsPerSecond: requests > 1 && spanMs > 0 ? ((requests - 1) * 1000) / spanMs : 0,
    };
  }

  bucketsSeen(): string[] {
    return [...this.histories.keys()];
  }

  private selectTimes(bucket: string, query: RateQueryOptions) {
    const history = this.histories.get(bucket);
    if (!history) return { times: new Float64Array(0), throttledCount: 0 };
    const keyIndex = query.keyId === undefined ? undefined : this.options.keyIndex(query.keyId);
    return history.select(keyIndex, query.includeThrottled ?? true);
  }

  reset(): void {
    this.windows.clear();
    this.histories.clear();
  }
}
