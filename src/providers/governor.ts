import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { Logger } from '../log';
import { countersFor, type RateLimit, type RateLimitOverrides } from './limits';
import type { ProviderName, RateSignal } from './types';

/**
 * The rate governor: one shared view of each provider account's rate limits, kept in Table storage
 * so that every worker instance draws from the same budget.
 *
 * Each counter is a sliding window kept as a short list of `[sliceStartMs, count]` entries (the
 * window cut into about 200 slices, so the list stays small even for 36,000/hour). A grant is
 * written with the row's ETag (optimistic concurrency; a 412 means someone else won and we read
 * again). A request is allowed when the grants of the last `window + margin` leave room for it; the
 * margin covers the time between the decision and the request reaching the provider (the table
 * write, which we bound, and the dispatch), so the provider sees no more than `limit` in any window
 * even though our clock stops at the decision. Waiting callers are told how long, never slept on.
 *
 * When a counter's rate is high (an unthrottled benchmark), one table write leases a small batch of
 * tokens that this instance hands out locally for `leaseMs`; the counter's window then grows by
 * `leaseMs` so that the guarantee still holds for tokens used at the end of their lease.
 */
export interface GovernorAccount {
  /** The connection id: every worker shares one budget per connection (provider account). */
  connectionId: string;
  provider: ProviderName;
  rateLimits?: RateLimitOverrides;
}

export type TakeResult = { granted: true } | { granted: false; waitMs: number };

export interface TakeOptions {
  /** Tokens to take at once (default 1). */
  count?: number;
  abortSignal?: AbortSignal;
}

export interface PauseOptions {
  /**
   * The wait was our default, not the provider's (Iterable's 429 says nothing): a 429 soon after the
   * previous pause ended doubles the pause (exponential backoff shared by every worker).
   */
  escalate?: boolean;
  abortSignal?: AbortSignal;
}

export interface RateGovernorOptions {
  /** The governor table (`storage.names.tables.governor`). */
  table: TableClient;
  /** Multiplies every limit, like the emulators' `rateScale` (windows stay the same). */
  rateScale?: number;
  /** Added to every window: covers the decision-to-arrival time of a request (default 25 ms). */
  safetyMarginMs?: number;
  /** A grant whose table write took longer than this is not used (it stays counted). Default 15 ms. */
  maxWriteMs?: number;
  /** Counters at or above this rate (requests/s) lease tokens in batches. Default 100/s. */
  leaseMinRatePerSecond?: number;
  /** How long a leased batch of tokens may be used, and the rate-time it covers. Default 20 ms. */
  leaseMs?: number;
  /** Ceiling of an escalated pause. Default 60 s. */
  maxEscalatedPauseMs?: number;
  now?: () => number;
  log?: Logger;
}

const SLICES_PER_WINDOW = 200;
const MAX_CONFLICT_RETRIES = 25;
const ROW_KEY = 'rate';

const entrySchema = z.tuple([z.number(), z.number().int().positive()]);
const governorStateSchema = z.object({
  v: z.literal(1),
  counters: z.record(z.string(), z.array(entrySchema)),
  pause: z.object({ untilMs: z.number(), durationMs: z.number(), streak: z.number().int().nonnegative() }).optional(),
  bucketPausedUntilMs: z.record(z.string(), z.number()).optional(),
});
type GovernorState = z.infer<typeof governorStateSchema>;

const governorEntitySchema = z.object({ state: z.string(), etag: z.string() });

interface CounterView extends RateLimit {
  name: string;
  sliceMs: number;
  /** The window the check uses: the provider's plus margin (and lease time when leasing). */
  effectiveWindowMs: number;
}

interface Lease {
  remaining: number;
  expiresAtMs: number;
}

const GRANTED: TakeResult = { granted: true };

export class RateGovernor {
  private readonly table: TableClient;
  private readonly rateScale: number;
  private readonly marginMs: number;
  private readonly maxWriteMs: number;
  private readonly leaseMinRatePerSecond: number;
  private readonly leaseMs: number;
  private readonly maxEscalatedPauseMs: number;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly leases = new Map<string, Lease>();
  /** Pauses this instance already knows of, so that leased tokens are not handed out during one. */
  private readonly knownPauses = new Map<string, number>();

  constructor(options: RateGovernorOptions) {
    this.table = options.table;
    this.rateScale = options.rateScale ?? 1;
    this.marginMs = options.safetyMarginMs ?? 25;
    this.maxWriteMs = options.maxWriteMs ?? 15;
    this.leaseMinRatePerSecond = options.leaseMinRatePerSecond ?? 100;
    this.leaseMs = options.leaseMs ?? 20;
    this.maxEscalatedPauseMs = options.maxEscalatedPauseMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.log = options.log;
  }

  /** Takes `count` tokens from the account's bucket, or says how long to wait before asking again. */
  async take(account: GovernorAccount, bucket: string, options: TakeOptions = {}): Promise<TakeResult> {
    const count = options.count ?? 1;
    const counters = this.counters(account, bucket);
    if (counters.length === 0) return GRANTED;
    const smallest = Math.min(...counters.map((counter) => counter.limit));
    if (!Number.isInteger(count) || count < 1 || count > smallest) {
      throw new RangeError(`Cannot take ${count} tokens from '${bucket}': its smallest limit is ${smallest}`);
    }
    const leaseKey = `${account.connectionId}\u0000${bucket}`;
    if (this.takeLeased(leaseKey, account.connectionId, count)) return GRANTED;
    const leaseSize = this.leaseSize(counters, count);

    for (let conflicts = 0; conflicts < MAX_CONFLICT_RETRIES; conflicts += 1) {
      options.abortSignal?.throwIfAborted();
      const row = await this.read(account.connectionId, options.abortSignal);
      const decidedAtMs = this.now();
      const pausedForMs = pausedUntil(row.state, bucket) - decidedAtMs;
      if (pausedForMs > 0) return { granted: false, waitMs: Math.ceil(pausedForMs) };

      let available = Number.POSITIVE_INFINITY;
      let waitMs = 0;
      for (const counter of counters) {
        const entries = live(row.state.counters[counter.name] ?? [], counter, decidedAtMs);
        const free = counter.limit - entries.reduce((sum, [, n]) => sum + n, 0);
        available = Math.min(available, free);
        if (free < count) waitMs = Math.max(waitMs, timeUntilFree(entries, count - free, counter, decidedAtMs));
      }
      if (waitMs > 0) return { granted: false, waitMs: Math.ceil(waitMs) };

      const granted = Math.min(available, leaseSize);
      const next: GovernorState = { ...row.state, counters: { ...row.state.counters } };
      for (const counter of counters) {
        next.counters[counter.name] = record(live(row.state.counters[counter.name] ?? [], counter, decidedAtMs), counter, decidedAtMs, granted);
      }
      if (!(await this.write(account.connectionId, next, row.etag, options.abortSignal))) {
        await sleep(Math.random() * 4);
        continue;
      }
      const writeMs = this.now() - decidedAtMs;
      if (writeMs > this.maxWriteMs) {
        // The tokens stay counted but are not used: a request sent this late could reach the
        // provider inside a window the check already considered closed.
        this.log?.debug('Rate grant discarded: the table write was slow', { provider: account.provider, bucket, writeMs });
        return { granted: false, waitMs: 0 };
      }
      if (granted > count) this.leases.set(leaseKey, { remaining: granted - count, expiresAtMs: decidedAtMs + this.leaseMs });
      return GRANTED;
    }
    // Heavy contention: let the caller come back a moment later rather than spin here.
    return { granted: false, waitMs: 5 + Math.ceil(Math.random() * 20) };
  }

  /**
   * Pauses every worker of the account until `untilMs` (a 429). Never shortens a pause in force.
   * Returns the time the pause ends, which may be later than asked when it escalates.
   */
  async pause(account: GovernorAccount, untilMs: number, options: PauseOptions = {}): Promise<number> {
    this.dropLeases(account.connectionId);
    for (let conflicts = 0; conflicts < MAX_CONFLICT_RETRIES; conflicts += 1) {
      options.abortSignal?.throwIfAborted();
      const row = await this.read(account.connectionId, options.abortSignal);
      const nowMs = this.now();
      const previous = row.state.pause ?? { untilMs: 0, durationMs: 0, streak: 0 };
      let pause = { untilMs: Math.max(untilMs, nowMs), durationMs: Math.max(untilMs - nowMs, 0), streak: 0 };
      if (options.escalate && nowMs < previous.untilMs) {
        // Another worker's request of the same burst: the pause in force already covers it.
        pause = previous;
      } else if (options.escalate && nowMs - previous.untilMs < Math.max(previous.durationMs, 1)) {
        const durationMs = Math.min(Math.max(previous.durationMs * 2, untilMs - nowMs), this.maxEscalatedPauseMs);
        pause = { untilMs: nowMs + durationMs, durationMs, streak: previous.streak + 1 };
      }
      if (pause.untilMs < previous.untilMs) pause = { ...previous };
      const next: GovernorState = { ...row.state, pause };
      if (pause === previous || (await this.write(account.connectionId, next, row.etag, options.abortSignal))) {
        this.knownPauses.set(account.connectionId, pause.untilMs);
        this.log?.info('Provider account paused', {
          provider: account.provider,
          connectionId: account.connectionId,
          pauseMs: Math.max(0, pause.untilMs - nowMs),
          streak: pause.streak,
        });
        return pause.untilMs;
      }
    }
    throw new Error('The rate governor could not record a pause: too much contention');
  }

  /** Learns from a provider's rate-limit headers: an exhausted window pauses its bucket until it resets. */
  async observe(account: GovernorAccount, signal: RateSignal, options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    if (signal.remaining === undefined || signal.remaining > 0 || !signal.resetInMs) return;
    const untilMs = this.now() + signal.resetInMs;
    for (let conflicts = 0; conflicts < MAX_CONFLICT_RETRIES; conflicts += 1) {
      const row = await this.read(account.connectionId, options.abortSignal);
      const current = row.state.bucketPausedUntilMs?.[signal.bucket] ?? 0;
      if (current >= untilMs) return;
      const next: GovernorState = {
        ...row.state,
        bucketPausedUntilMs: { ...row.state.bucketPausedUntilMs, [signal.bucket]: untilMs },
      };
      if (await this.write(account.connectionId, next, row.etag, options.abortSignal)) return;
    }
  }

  private counters(account: GovernorAccount, bucket: string): CounterView[] {
    return countersFor(account.provider, bucket, account.rateLimits, this.rateScale).map((counter) => {
      const perSecond = (counter.limit * 1000) / counter.windowMs;
      const leasing = perSecond >= this.leaseMinRatePerSecond;
      return {
        ...counter,
        sliceMs: Math.max(1, Math.floor(counter.windowMs / SLICES_PER_WINDOW)),
        effectiveWindowMs: counter.windowMs + this.marginMs + (leasing ? this.leaseMs : 0),
      };
    });
  }

  private leaseSize(counters: CounterView[], count: number): number {
    const perSecond = Math.min(...counters.map((counter) => (counter.limit * 1000) / counter.windowMs));
    if (perSecond < this.leaseMinRatePerSecond) return count;
    return Math.max(count, Math.floor((perSecond * this.leaseMs) / 1000));
  }

  private takeLeased(leaseKey: string, connectionId: string, count: number): boolean {
    const lease = this.leases.get(leaseKey);
    if (lease === undefined) return false;
    const nowMs = this.now();
    if (lease.expiresAtMs <= nowMs || (this.knownPauses.get(connectionId) ?? 0) > nowMs) {
      this.leases.delete(leaseKey);
      return false;
    }
    if (lease.remaining < count) return false;
    lease.remaining -= count;
    if (lease.remaining === 0) this.leases.delete(leaseKey);
    return true;
  }

  private dropLeases(connectionId: string): void {
    for (const key of this.leases.keys()) if (key.startsWith(`${connectionId}\u0000`)) this.leases.delete(key);
  }

  private async read(connectionId: string, abortSignal: AbortSignal | undefined): Promise<{ state: GovernorState; etag: string | undefined }> {
    try {
      const entity = await this.table.getEntity(partitionKeyOf(connectionId), ROW_KEY, { abortSignal });
      const row = governorEntitySchema.safeParse(entity);
      const state = row.success ? governorStateSchema.safeParse(parseJson(row.data.state)) : undefined;
      if (row.success && state?.success) return { state: state.data, etag: row.data.etag };
      // A row we cannot read is replaced (with its ETag) rather than blocking the account forever.
      this.log?.warn('Rate governor state was unreadable and is reset', { connectionId });
      return { state: emptyState(), etag: row.success ? row.data.etag : (entity as { etag?: string }).etag };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return { state: emptyState(), etag: undefined };
      throw error;
    }
  }

  /** Writes the state if nobody changed it since it was read; false when someone did. */
  private async write(connectionId: string, state: GovernorState, etag: string | undefined, abortSignal: AbortSignal | undefined): Promise<boolean> {
    const entity = { partitionKey: partitionKeyOf(connectionId), rowKey: ROW_KEY, state: JSON.stringify(state) };
    try {
      if (etag === undefined) await this.table.createEntity(entity, { abortSignal });
      else await this.table.updateEntity(entity, 'Replace', { etag, abortSignal });
      return true;
    } catch (error) {
      if (error instanceof RestError && (error.statusCode === 412 || error.statusCode === 409)) return false;
      throw error;
    }
  }
}

export function createRateGovernor(options: RateGovernorOptions): RateGovernor {
  return new RateGovernor(options);
}

function emptyState(): GovernorState {
  return { v: 1, counters: {} };
}

function pausedUntil(state: GovernorState, bucket: string): number {
  return Math.max(state.pause?.untilMs ?? 0, state.bucketPausedUntilMs?.[bucket] ?? 0);
}

/**
 * The entries that still count at `nowMs`. An entry's grants happened at most at the end of its
 * slice, so it counts until `sliceStart + sliceMs + effectiveWindowMs`.
 */
function live(entries: Array<[number, number]>, counter: CounterView, nowMs: number): Array<[number, number]> {
  return entries.filter(([start]) => start + counter.sliceMs + counter.effectiveWindowMs > nowMs).sort((a, b) => a[0] - b[0]);
}

function timeUntilFree(entries: Array<[number, number]>, needed: number, counter: CounterView, nowMs: number): number {
  let freed = 0;
  for (const [start, n] of entries) {
    freed += n;
    if (freed >= needed) return start + counter.sliceMs + counter.effectiveWindowMs - nowMs + 1;
  }
  return counter.effectiveWindowMs;
}

function record(entries: Array<[number, number]>, counter: CounterView, nowMs: number, count: number): Array<[number, number]> {
  const slice = Math.floor(nowMs / counter.sliceMs) * counter.sliceMs;
  const last = entries.at(-1);
  if (last !== undefined && last[0] === slice) return [...entries.slice(0, -1), [slice, last[1] + count]];
  return [...entries, [slice, count]];
}

/** Table keys may not hold `/ \ # ?` or control characters: such ids are hashed. */
function partitionKeyOf(connectionId: string): string {
  return /^[A-Za-z0-9_.:@-]{1,200}$/.test(connectionId)
    ? connectionId
    : `h-${createHash('sha256').update(connectionId).digest('hex')}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
