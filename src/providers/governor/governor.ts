// The rate governor: one shared view of each provider account's rate limits, kept in Table storage
// (one row per account, state.ts) so that every worker instance draws from the same budget.
//
// Each counter is a sliding window of `limit` requests per `windowMs` (window.ts). A grant is a
// reserved slot: a time at most a moment ahead, at which the caller may send. `take` sleeps until
// that slot and then resolves, so the table write happens while the slot approaches rather than
// eating into it, and the slot is chosen so that no `limit + 1` grants ever fall within
// `window + slice + margin` of each other: the provider, which sees each request at most `margin`
// after it was sent, never counts more than `limit` in any window. A grant used late (its caller
// woke up late in a busy process, or the table write that reserved it finished late) is still
// used, and counted from when it was used (late.ts). Counters of windows up to a second are paced:
// their grants are spread evenly rather than granted in bursts (window.ts).
//
// Within one instance the takes of an account are served together, one table round trip for all
// that queued meanwhile (group commit, pump.ts). For very high rates one write also leases a batch
// of tokens that the instance hands out for `leaseMs` (leases.ts). A 429 pauses the whole account,
// and exhausted rate headers pause one bucket (pauses.ts).
//
// A take that cannot be served soon — the account or bucket is paused, or the next free slot lies
// more than `maxAheadMs` beyond a table write — answers `{ granted: false, waitMs }` without
// sleeping (so does a take whose slot was overtaken by a pause this instance recorded meanwhile),
// and the caller decides: the pipeline's pacing (src/pipeline/pacing.ts) waits in place when the wait
// is short (the planner always; a sender up to its `maxPacedWaitMs`, within its deadline) and
// otherwise re-enqueues the chunk with a visibility delay.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../log';
import { countersFor } from '../limits';
import type { RateSignal } from '../types';
import { nextWriteLeadMs, planGrants, type Decision, type GrantRequest, type LateGrant } from './grants';
import { LATE_TOLERANCE_MS, LateGrants } from './late';
import { leaseSize, leaseSpacingMs, Leases, type LeasePolicy } from './leases';
import { KnownPauses, recordBucketPause, recordPause, type PauseContext } from './pauses';
import { GroupCommit } from './pump';
import { conflictBackoff, GovernorTable, MAX_CONFLICT_RETRIES } from './state';
import type { GovernorAccount, ObserveOptions, PauseOptions, RateGovernorOptions, TakeOptions, TakeResult } from './types';
import { windowCounter, type WindowCounter } from './window';

const GRANTED: TakeResult = { granted: true };

export class RateGovernor {
  private readonly table: GovernorTable;
  private readonly rateScale: number;
  private readonly marginMs: number;
  private readonly maxAheadMs: number;
  private readonly leasePolicy: LeasePolicy;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly pauseContext: PauseContext;
  private readonly leases: Leases;
  /** Round trips per account; `null` asks for one that only writes the late grants. */
  private readonly commits = new GroupCommit<GrantRequest | null, Decision>();
  private readonly late = new LateGrants((account) => void this.serve(account, null).catch(() => this.late.retry(account.connectionId)));
  /** Pauses this instance already knows of, so that leased tokens are not handed out during one. */
  private readonly knownPauses = new KnownPauses();
  /** How long a table write may take here (a decaying maximum): slots are reserved this far ahead. */
  private writeLeadMs = 20;

  constructor(options: RateGovernorOptions) {
    this.table = new GovernorTable(options.table, options.log);
    this.rateScale = options.rateScale ?? 1;
    this.marginMs = options.safetyMarginMs ?? 15;
    this.maxAheadMs = options.maxAheadMs ?? 50;
    this.leasePolicy = { minRatePerSecond: options.leaseMinRatePerSecond ?? 1_000, leaseMs: options.leaseMs ?? 20 };
    this.now = options.now ?? Date.now;
    this.log = options.log;
    this.pauseContext = { table: this.table, maxEscalatedPauseMs: options.maxEscalatedPauseMs ?? 60_000, now: this.now, log: this.log };
    this.leases = new Leases(this.leasePolicy.leaseMs);
  }

  /**
   * Takes `count` tokens from the account's bucket. Sleeps until the slot it reserved (a table
   * write plus at most `maxAheadMs` from now) and resolves `granted` then: send the request at
   * once, nothing in between. Otherwise resolves at once with how long to wait before asking again.
   */
  async take(account: GovernorAccount, bucket: string, options: TakeOptions = {}): Promise<TakeResult> {
    const count = options.count ?? 1;
    const counters = this.counters(account, bucket);
    if (counters.length === 0) return GRANTED;
    const smallest = Math.min(...counters.map((counter) => counter.limit));
    if (!Number.isInteger(count) || count < 1 || count > smallest) {
      throw new RangeError(`Cannot take ${count} tokens from '${bucket}': its smallest limit is ${smallest}`);
    }
    const { connectionId } = account;
    const leased = this.leases.take(connectionId, bucket, count, this.now(), this.knownPauses.until(connectionId));
    if (leased !== undefined) {
      await this.waitUntil(leased, options.abortSignal);
      return GRANTED;
    }
    const request: GrantRequest = { bucket, count, tokens: Math.min(smallest, leaseSize(counters, count, this.leasePolicy)), counters };
    const decision = await this.serve(account, request);
    if (decision.kind === 'denied') return { granted: false, waitMs: decision.waitMs };
    if (decision.tokens > count) this.leases.hold(connectionId, bucket, decision.tokens - count, decision.atMs);
    await this.waitUntil(decision.atMs, options.abortSignal);
    // A pause recorded here while this caller waited for its slot wins over the slot.
    const pausedForMs = this.knownPauses.until(connectionId) - this.now();
    if (pausedForMs > 0) return { granted: false, waitMs: Math.ceil(pausedForMs) };
    // A lease's tokens are not moved: at the rates that lease, its `leaseMs` already widens every window.
    if (decision.tokens > count) return GRANTED;
    const used = () => this.used(account, { counters, fromMs: decision.atMs, toMs: this.now(), tokens: count }, bucket);
    if (options.reportUse) return { granted: true, used: once(used) };
    used();
    return GRANTED;
  }

  /** A grant used after its slot is counted from when it was used (late.ts). */
  private used(account: GovernorAccount, grant: LateGrant, bucket: string): void {
    const lateMs = grant.toMs - grant.fromMs;
    if (lateMs <= LATE_TOLERANCE_MS) return;
    this.log?.debug('Rate grant used late: counted from when it was used', { provider: account.provider, bucket, lateMs: Math.round(lateMs) });
    this.late.add(account, grant);
  }

  private serve(account: GovernorAccount, request: GrantRequest | null): Promise<Decision> {
    return this.commits.submit(account.connectionId, request, (batch) => this.decide(account, batch));
  }

  /**
   * Pauses every worker of the account until `untilMs` (a 429). Never shortens a pause in force.
   * Returns the time the pause ends, which may be later than asked when it escalates.
   */
  async pause(account: GovernorAccount, untilMs: number, options: PauseOptions = {}): Promise<number> {
    this.leases.drop(account.connectionId);
    const pausedUntilMs = await recordPause(this.pauseContext, account, untilMs, options);
    this.knownPauses.set(account.connectionId, pausedUntilMs);
    return pausedUntilMs;
  }

  /** Learns from a provider's rate-limit headers: an exhausted window pauses its bucket until it resets. */
  async observe(account: GovernorAccount, signal: RateSignal, options: ObserveOptions = {}): Promise<void> {
    await recordBucketPause(this.pauseContext, account, signal, options);
  }

  /**
   * One round trip for a batch: read the row, move this instance's late grants, grant slots, write
   * it under its ETag. A `null` request (a flush of late grants) is answered `denied`.
   */
  private async decide(account: GovernorAccount, batch: (GrantRequest | null)[]): Promise<Decision[]> {
    const { connectionId } = account;
    const takes = batch.filter((request) => request !== null);
    const answer = (decisions: Decision[]): Decision[] => {
      let next = 0;
      return batch.map((request) => (request === null ? { kind: 'denied', waitMs: 0 } : decisions[next++]!));
    };
    for (let conflicts = 0; conflicts < MAX_CONFLICT_RETRIES; conflicts += 1) {
      const late = this.late.claim(connectionId);
      const row = await this.table.read(connectionId);
      const readAtMs = this.now();
      const timing = { readAtMs, earliestMs: readAtMs + this.writeLeadMs, marginMs: this.marginMs, maxAheadMs: this.maxAheadMs };
      const { decisions, counters } = planGrants(row.state, takes, late, timing);
      if (late.length === 0 && !decisions.some((decision) => decision.kind === 'granted')) return answer(decisions);
      if (!(await this.table.write(connectionId, { ...row.state, counters }, row.etag))) {
        await conflictBackoff();
        continue;
      }
      this.late.settle(connectionId, late);
      this.writeLeadMs = nextWriteLeadMs(this.writeLeadMs, this.now() - readAtMs);
      return answer(decisions);
    }
    // Heavy contention: let the callers come back a moment later rather than spin here.
    this.late.retry(connectionId);
    return batch.map(() => ({ kind: 'denied', waitMs: 5 + Math.ceil(Math.random() * 20) }));
  }

  /** The bucket's counters (limits scaled, overrides applied) as the window math sees them. */
  private counters(account: GovernorAccount, bucket: string): WindowCounter[] {
    return countersFor(account.provider, bucket, account.rateLimits, this.rateScale).map((counter) =>
      windowCounter(counter, leaseSpacingMs(counter, this.leasePolicy)),
    );
  }

  private async waitUntil(atMs: number, abortSignal: AbortSignal | undefined): Promise<void> {
    const waitMs = atMs - this.now();
    if (waitMs > 0) await sleep(waitMs, undefined, { signal: abortSignal });
  }
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}

export function createRateGovernor(options: RateGovernorOptions): RateGovernor {
  return new RateGovernor(options);
}
