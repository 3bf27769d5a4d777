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

/**
 * Granted (send now), or not (ask again after `waitMs`). With `reportUse`, a grant carries `used`:
 * call it as soon as the request has been handed to the socket.
 */
export type TakeResult = { granted: true; used?: () => void } | { granted: false; waitMs: number };

export interface TakeOptions {
  /** Tokens to take at once (default 1). */
  count?: number;
  /**
   * The caller reports when it sent the request (`used` on the grant), so that a process stalled
   * between the grant and the socket write counts the request from when it really went. Without it
   * the grant counts as used when `take` resolves.
   */
  reportUse?: boolean;
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
   * widened by it. A grant used later than its slot plus the margin is counted from when it was
   * used. Default 15 ms.
   */
  safetyMarginMs?: number;
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
