import { createHash } from 'node:crypto';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { Logger } from '../log';
import type { RateLimitOverrides } from '../domain/provider';
import { countersFor, type RateLimit } from './limits';
import type { ProviderName, RateSignal } from './types';

/**
 * The rate governor: one shared view of each provider account's rate limits, kept in Table storage
 * so that every worker instance draws from the same budget.
 *
 * Each counter is a sliding window of `limit` requests per `windowMs`, kept as a short list of
 * `[sliceStartMs, count]` grants (the window cut into 500 slices, so the list stays small even
 * for 36,000/hour). A grant is a reserved slot: a time at most a moment ahead, at which the
 * caller may send. `take` resolves at that time, so the table write happens while the slot
 * approaches rather than eating into it, and the slot is chosen so that no `limit + 1` grants ever
 * fall within `window + slice + margin` of each other: the provider, which sees each request at
 * most `margin` after its slot, never counts more than `limit` in any window. The row is written
 * with its ETag (optimistic concurrency; a 412 means another instance won and we read again).
 *
 * Within one instance the takes of an account are served together: while a table round trip is
 * in flight the next callers queue, and the next round trip decides for all of them (group
 * commit), so concurrency inside a host costs no conflicts. For very high rates (an unthrottled
 * benchmark) one write also leases a batch of tokens that the instance hands out for `leaseMs`;
 * such counters' windows grow by `leaseMs`, which keeps the guarantee for the last leased token.
 *
 * A caller that must wait is told how long (`waitMs`); it re-enqueues, it does not sleep.
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
  /**
   * The most a request may reach the provider after its slot (dispatch, clocks): every window is
   * widened by it. Half of it is also how late a table write may finish for its grant to be used.
   * Default 15 ms.
   */
  safetyMarginMs?: number;
  /**
   * Widen the margin by the event-loop stalls seen lately (a starved process sends late). Default
   * true; the stall is measured process-wide.
   */
  adaptiveMargin?: boolean;
  /**
   * How far beyond the time a table write takes a slot may be reserved (a later one is refused
   * with `waitMs`); also about how long requests reserved on another instance may still go out
   * after a pause. Default 50 ms.
   */
  maxAheadMs?: number;
  /**
   * Counters at or above this rate (requests/s) lease tokens in batches. Below it, serving every
   * queued caller of a host with one round trip keeps up (about 1,500 grants/s). Default 1,000/s.
   */
  leaseMinRatePerSecond?: number;
  /** How long a leased batch of tokens may be used, and the rate-time it covers. Default 20 ms. */
  leaseMs?: number;
  /** Ceiling of an escalated pause. Default 60 s. */
  maxEscalatedPauseMs?: number;
  now?: () => number;
  log?: Logger;
}

const SLICES_PER_WINDOW = 500;
const MAX_CONFLICT_RETRIES = 40;
const ROW_KEY = 'rate';

const entrySchema = z.tuple([z.number(), z.number().int().positive()]);
const governorStateSchema = z.object({
  v: z.literal(1),
  counters: z.record(z.string(), z.array(entrySchema)),
  pause: z.object({ untilMs: z.number(), durationMs: z.number(), streak: z.number().int().nonnegative() }).optional(),
  bucketPausedUntilMs: z.record(z.string(), z.number()).optional(),
});
type GovernorState = z.infer<typeof governorStateSchema>;
type Entry = [number, number];

const governorEntitySchema = z.object({ state: z.string(), etag: z.string() });

interface CounterView extends RateLimit {
  name: string;
  sliceMs: number;
  /** No `limit + 1` grants have slice starts closer than this plus the margin: window + slice (+ lease). */
  spacingMs: number;
}

type Decision = { kind: 'granted'; atMs: number; tokens: number } | { kind: 'denied'; waitMs: number };

interface Pending {
  bucket: string;
  count: number;
  tokens: number;
  counters: CounterView[];
  resolve: (decision: Decision) => void;
  reject: (error: unknown) => void;
}

interface Lease {
  remaining: number;
  validFromMs: number;
  expiresAtMs: number;
}

const GRANTED: TakeResult = { granted: true };

export class RateGovernor {
  private readonly table: TableClient;
  private readonly rateScale: number;
  private readonly marginMs: number;
  private readonly maxAheadMs: number;
  private readonly leaseMinRatePerSecond: number;
  private readonly leaseMs: number;
  private readonly maxEscalatedPauseMs: number;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly leases = new Map<string, Lease>();
  private readonly queues = new Map<string, Pending[]>();
  private readonly pumping = new Set<string>();
  /** Pauses this instance already knows of, so that leased tokens are not handed out during one. */
  private readonly knownPauses = new Map<string, number>();
  /** How long a table write may take here (a decaying maximum): slots are reserved this far ahead. */
  private writeLeadMs = 20;
  private readonly lag: LoopLag | undefined;

  constructor(options: RateGovernorOptions) {
    this.table = options.table;
    this.rateScale = options.rateScale ?? 1;
    this.marginMs = options.safetyMarginMs ?? 15;
    this.maxAheadMs = options.maxAheadMs ?? 50;
    this.leaseMinRatePerSecond = options.leaseMinRatePerSecond ?? 1_000;
    this.leaseMs = options.leaseMs ?? 20;
    this.maxEscalatedPauseMs = options.maxEscalatedPauseMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.log = options.log;
    this.lag = options.adaptiveMargin === false ? undefined : LoopLag.shared();
  }

  /**
   * Takes `count` tokens from the account's bucket. Resolves `granted` at the moment the request may
   * be sent (a table write plus at most `maxAheadMs` from now): send it at once, nothing in between.
   * Otherwise says how long to wait before asking again.
   */
  async take(account: GovernorAccount, bucket: string, options: TakeOptions = {}): Promise<TakeResult> {
    const count = options.count ?? 1;
    const counters = this.counters(account, bucket);
    if (counters.length === 0) return GRANTED;
    const smallest = Math.min(...counters.map((counter) => counter.limit));
    if (!Number.isInteger(count) || count < 1 || count > smallest) {
      throw new RangeError(`Cannot take ${count} tokens from '${bucket}': its smallest limit is ${smallest}`);
    }
    const leaseKey = `${account.connectionId}\u0000${bucket}`;
    const leased = this.takeLeased(leaseKey, account.connectionId, count);
    if (leased !== undefined) {
      await this.waitUntil(leased, options.abortSignal);
      return GRANTED;
    }
    const tokens = Math.min(smallest, this.leaseSize(counters, count));
    const decision = await new Promise<Decision>((resolve, reject) => {
      const queue = this.queues.get(account.connectionId) ?? [];
      queue.push({ bucket, count, tokens, counters, resolve, reject });
      this.queues.set(account.connectionId, queue);
      if (!this.pumping.has(account.connectionId)) void this.pump(account);
    });
    if (decision.kind === 'denied') return { granted: false, waitMs: decision.waitMs };
    if (decision.tokens > count) {
      this.leases.set(leaseKey, {
        remaining: decision.tokens - count,
        validFromMs: decision.atMs,
        expiresAtMs: decision.atMs + this.leaseMs,
      });
    }
    await this.waitUntil(decision.atMs, options.abortSignal);
    // A pause recorded here while this caller waited for its slot wins over the slot.
    const pausedForMs = (this.knownPauses.get(account.connectionId) ?? 0) - this.now();
    return pausedForMs > 0 ? { granted: false, waitMs: Math.ceil(pausedForMs) } : GRANTED;
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
      if (pause.untilMs < previous.untilMs) pause = previous;
      if (pause === previous || (await this.write(account.connectionId, { ...row.state, pause }, row.etag, options.abortSignal))) {
        this.knownPauses.set(account.connectionId, pause.untilMs);
        this.log?.info('Provider account paused', {
          provider: account.provider,
          connectionId: account.connectionId,
          pauseMs: Math.max(0, pause.untilMs - nowMs),
          streak: pause.streak,
        });
        return pause.untilMs;
      }
      await sleep(Math.random() * 5);
    }
    throw new Error('The rate governor could not record a pause: too much contention');
  }

  /** Learns from a provider's rate-limit headers: an exhausted window pauses its bucket until it resets. */
  async observe(account: GovernorAccount, signal: RateSignal, options: { abortSignal?: AbortSignal } = {}): Promise<void> {
    if (signal.remaining === undefined || signal.remaining > 0 || !signal.resetInMs) return;
    const untilMs = this.now() + signal.resetInMs;
    for (let conflicts = 0; conflicts < MAX_CONFLICT_RETRIES; conflicts += 1) {
      const row = await this.read(account.connectionId, options.abortSignal);
      if ((row.state.bucketPausedUntilMs?.[signal.bucket] ?? 0) >= untilMs) return;
      const next: GovernorState = {
        ...row.state,
        bucketPausedUntilMs: { ...row.state.bucketPausedUntilMs, [signal.bucket]: untilMs },
      };
      if (await this.write(account.connectionId, next, row.etag, options.abortSignal)) return;
      await sleep(Math.random() * 5);
    }
  }

  /** Serves an account's queued takes, one table round trip for all that queued meanwhile. */
  private async pump(account: GovernorAccount): Promise<void> {
    const key = account.connectionId;
    this.pumping.add(key);
    try {
      for (let batch = this.queues.get(key); batch !== undefined && batch.length > 0; batch = this.queues.get(key)) {
        this.queues.delete(key);
        try {
          const decisions = await this.decide(account, batch);
          batch.forEach((pending, i) => pending.resolve(decisions[i]!));
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.pumping.delete(key);
    }
  }

  private async decide(account: GovernorAccount, batch: Pending[]): Promise<Decision[]> {
    for (let conflicts = 0; conflicts < MAX_CONFLICT_RETRIES; conflicts += 1) {
      const row = await this.read(account.connectionId, undefined);
      const readAtMs = this.now();
      const counters: Record<string, Entry[]> = { ...row.state.counters };
      const decisions: Decision[] = [];
      // One lease per bucket and round trip: the other callers of the batch take only what they asked.
      const leased = new Set<string>();
      const earliestMs = readAtMs + this.writeLeadMs;
      const marginMs = this.marginMs + (this.lag?.recentMs ?? 0);
      for (const pending of batch) {
        const pausedForMs = pausedUntil(row.state, pending.bucket) - readAtMs;
        if (pausedForMs > 0) {
          decisions.push({ kind: 'denied', waitMs: Math.ceil(pausedForMs) });
          continue;
        }
        const live = (counter: CounterView) => (counters[counter.name] = prune(counters[counter.name] ?? [], counter, readAtMs));
        const tokens = leased.has(pending.bucket) ? pending.count : pending.tokens;
        const slotMs = Math.max(...pending.counters.map((counter) => earliestSlot(live(counter), counter, marginMs, tokens, earliestMs)));
        if (slotMs - earliestMs > this.maxAheadMs) {
          decisions.push({ kind: 'denied', waitMs: Math.max(1, Math.ceil(slotMs - earliestMs - this.maxAheadMs)) });
          continue;
        }
        for (const counter of pending.counters) counters[counter.name] = record(live(counter), slotMs, counter.sliceMs, tokens);
        if (tokens > pending.count) leased.add(pending.bucket);
        decisions.push({ kind: 'granted', atMs: slotMs, tokens });
      }
      if (!decisions.some((decision) => decision.kind === 'granted')) return decisions;
      if (!(await this.write(account.connectionId, { ...row.state, counters }, row.etag, undefined))) {
        await sleep(Math.random() * 5);
        continue;
      }
      const writtenAtMs = this.now();
      this.writeLeadMs = Math.min(200, Math.max(5, 0.95 * this.writeLeadMs, 1.5 * (writtenAtMs - readAtMs)));
      const late: { pending: Pending; atMs: number; tokens: number }[] = [];
      const final = decisions.map((decision, i): Decision => {
        if (decision.kind === 'denied' || writtenAtMs <= decision.atMs + this.marginMs / 2) return decision;
        // The write finished after the slot: a request sent now could reach the provider inside a
        // window the choice of slot considered closed. It is not sent, and its tokens are given back.
        this.log?.debug('Rate grant discarded: the table write finished after its slot', {
          provider: account.provider,
          lateMs: writtenAtMs - decision.atMs,
        });
        late.push({ pending: batch[i]!, atMs: decision.atMs, tokens: decision.tokens });
        return { kind: 'denied', waitMs: 0 };
      });
      if (late.length > 0) await this.refund(account, late);
      return final;
    }
    // Heavy contention: let the callers come back a moment later rather than spin here.
    return batch.map(() => ({ kind: 'denied', waitMs: 5 + Math.ceil(Math.random() * 20) }));
  }

  private counters(account: GovernorAccount, bucket: string): CounterView[] {
    return countersFor(account.provider, bucket, account.rateLimits, this.rateScale).map((counter) => {
      const sliceMs = Math.max(1, Math.floor(counter.windowMs / SLICES_PER_WINDOW));
      const leasing = (counter.limit * 1000) / counter.windowMs >= this.leaseMinRatePerSecond;
      return { ...counter, sliceMs, spacingMs: counter.windowMs + sliceMs + (leasing ? this.leaseMs : 0) };
    });
  }

  private leaseSize(counters: CounterView[], count: number): number {
    const perSecond = Math.min(...counters.map((counter) => (counter.limit * 1000) / counter.windowMs));
    if (perSecond < this.leaseMinRatePerSecond) return count;
    return Math.max(count, Math.floor((perSecond * this.leaseMs) / 1000));
  }

  /** The time a leased token may be used, or undefined when no lease covers the request. */
  private takeLeased(leaseKey: string, connectionId: string, count: number): number | undefined {
    const lease = this.leases.get(leaseKey);
    if (lease === undefined) return undefined;
    const nowMs = this.now();
    if (lease.expiresAtMs <= nowMs || (this.knownPauses.get(connectionId) ?? 0) > nowMs) {
      this.leases.delete(leaseKey);
      return undefined;
    }
    if (lease.remaining < count) return undefined;
    lease.remaining -= count;
    if (lease.remaining === 0) this.leases.delete(leaseKey);
    return lease.validFromMs;
  }

  private dropLeases(connectionId: string): void {
    for (const key of this.leases.keys()) if (key.startsWith(`${connectionId}\u0000`)) this.leases.delete(key);
  }

  private async waitUntil(atMs: number, abortSignal: AbortSignal | undefined): Promise<void> {
    const waitMs = atMs - this.now();
    if (waitMs > 0) await sleep(waitMs, undefined, { signal: abortSignal });
    this.lag?.sample(this.now() - atMs);
  }

  /**
   * Gives back the tokens of grants that were never used (their write came too late): on a slow
   * counter, say 60 a minute, every lost token would otherwise be missing for a whole window. Best
   * effort: after a few conflicts the tokens stay counted, which only costs capacity.
   */
  private async refund(account: GovernorAccount, grants: { pending: Pending; atMs: number; tokens: number }[]): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const row = await this.read(account.connectionId, undefined);
      const counters: Record<string, Entry[]> = { ...row.state.counters };
      for (const grant of grants) {
        for (const counter of grant.pending.counters) {
          const slice = Math.floor(grant.atMs / counter.sliceMs) * counter.sliceMs;
          counters[counter.name] = (counters[counter.name] ?? [])
            .map((entry): Entry => (entry[0] === slice ? [entry[0], entry[1] - grant.tokens] : entry))
            .filter(([, count]) => count > 0);
        }
      }
      if (await this.write(account.connectionId, { ...row.state, counters }, row.etag, undefined)) return;
      await sleep(Math.random() * 5);
    }
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

/** The longest margin ever used: grants older than this cannot constrain a new slot. */
const MAX_MARGIN_MS = 1_000;

/** Grants that may still constrain a slot at or after `nowMs`, sorted by slice start. */
function prune(entries: Entry[], counter: CounterView, nowMs: number): Entry[] {
  return entries
    .filter(([start]) => start + counter.spacingMs + MAX_MARGIN_MS > nowMs - counter.sliceMs)
    .sort((a, b) => a[0] - b[0]);
}

/**
 * The earliest time from `fromMs` whose slice may take `count` more grants: only grants in
 * slices later than `slice - spacing - margin` (future reservations included) count against it.
 */
function earliestSlot(entries: Entry[], counter: CounterView, marginMs: number, count: number, fromMs: number): number {
  const spacingMs = counter.spacingMs + Math.min(marginMs, MAX_MARGIN_MS);
  const from = Math.floor(fromMs / counter.sliceMs) * counter.sliceMs;
  const counted = entries.filter(([start]) => start > from - spacingMs);
  let excess = counted.reduce((sum, [, n]) => sum + n, 0) + count - counter.limit;
  if (excess <= 0) return fromMs;
  for (const [start, n] of counted) {
    excess -= n;
    // This grant stops counting for slices starting at `start + spacing` or later.
    if (excess <= 0) return Math.max(fromMs, Math.ceil((start + spacingMs) / counter.sliceMs) * counter.sliceMs);
  }
  return fromMs + spacingMs;
}

function record(entries: Entry[], atMs: number, sliceMs: number, count: number): Entry[] {
  const slice = Math.floor(atMs / sliceMs) * sliceMs;
  const existing = entries.findIndex(([start]) => start === slice);
  if (existing >= 0) return entries.map((entry, i): Entry => (i === existing ? [slice, entry[1] + count] : entry));
  return compact([...entries, [slice, count] as Entry].sort((a, b) => a[0] - b[0]));
}

/** Keeps a row well under Table storage's 64 KiB per property whatever the rate. */
const MAX_ENTRIES_PER_COUNTER = 250;

/**
 * Halves a long list by merging neighbours into the later one: a grant moved later only counts
 * against more slots, never fewer, so the limit still holds (a little capacity is lost).
 */
function compact(entries: Entry[]): Entry[] {
  if (entries.length <= MAX_ENTRIES_PER_COUNTER) return entries;
  const merged: Entry[] = [];
  for (let i = 0; i < entries.length; i += 2) {
    const [first, second] = [entries[i]!, entries[i + 1]];
    merged.push(second === undefined ? first : [second[0], first[1] + second[1]]);
  }
  return merged;
}

/**
 * The longest event-loop stall this process saw in the last moments (ms): a stalled process sends
 * its requests late, and a request that went out late constrains the grants of the next window,
 * so a stall is remembered for a little longer than a one-second window.
 */
class LoopLag {
  private static instance: LoopLag | undefined;
  private static readonly MEMORY_MS = 1_500;
  private readonly histogram: IntervalHistogram;
  /** The longest stall seen per 100 ms slot (performance time). */
  private readonly stalls = new Map<number, number>();

  private constructor() {
    this.histogram = monitorEventLoopDelay({ resolution: 5 });
    this.histogram.enable();
    setInterval(() => {
      // The histogram reports the delay beyond its resolution timer, in nanoseconds.
      this.sample(this.histogram.max / 1e6 - 5);
      this.histogram.reset();
    }, 200).unref();
  }

  static shared(): LoopLag {
    LoopLag.instance ??= new LoopLag();
    return LoopLag.instance;
  }

  get recentMs(): number {
    const oldest = Math.floor((performance.now() - LoopLag.MEMORY_MS) / 100);
    let longest = 0;
    for (const [slot, stallMs] of this.stalls) {
      if (slot < oldest) this.stalls.delete(slot);
      else longest = Math.max(longest, stallMs);
    }
    return Math.min(MAX_MARGIN_MS, Math.round(longest));
  }

  sample(stallMs: number): void {
    if (stallMs < 1) return;
    // The longest stall per 100 ms keeps the memory small whatever the rate of samples.
    const slot = Math.floor(performance.now() / 100);
    this.stalls.set(slot, Math.max(this.stalls.get(slot) ?? 0, stallMs));
  }
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
