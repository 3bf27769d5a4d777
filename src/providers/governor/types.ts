// The rate governor's public vocabulary: the account a caller draws from, what a take answers, and
// the options of the governor and of its operations.
import type { TableClient } from '@azure/data-tables';
import type { RateLimitOverrides } from '../../domain/provider';
import type { Logger } from '../../log';
import type { OperationOptions } from '../../app/operation';
import type { ProviderName } from '../types';

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

export type ObserveOptions = OperationOptions;

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
