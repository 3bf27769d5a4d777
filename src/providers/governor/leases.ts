// Leases: for very high rates (an unthrottled benchmark) one table write reserves a batch of tokens
// that this instance then hands out for `leaseMs` without a round trip. A leasing counter's window
// grows by `leaseMs`, which keeps the guarantee for the last leased token.
import type { RateLimit } from '../limits';

interface Lease {
  remaining: number;
  validFromMs: number;
  expiresAtMs: number;
}

export interface LeasePolicy {
  /** Counters at or above this rate (requests/s) lease. */
  minRatePerSecond: number;
  /** How long a leased batch may be used, and the rate-time it covers. */
  leaseMs: number;
}

function perSecond(counter: RateLimit): number {
  return (counter.limit * 1000) / counter.windowMs;
}

/** How much a counter's spacing grows because it leases: `leaseMs`, or nothing below the lease rate. */
export function leaseSpacingMs(counter: RateLimit, policy: LeasePolicy): number {
  return perSecond(counter) >= policy.minRatePerSecond ? policy.leaseMs : 0;
}

/** The tokens to reserve for a take of `count`: a lease's worth when the slowest counter leases. */
export function leaseSize(counters: RateLimit[], count: number, policy: LeasePolicy): number {
  const slowest = Math.min(...counters.map(perSecond));
  if (slowest < policy.minRatePerSecond) return count;
  return Math.max(count, Math.floor((slowest * policy.leaseMs) / 1000));
}

/** The leases this instance holds, one per account and bucket. */
export class Leases {
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly leaseMs: number) {}

  /**
   * Takes `count` leased tokens: answers the time they may be used, or undefined when no lease
   * covers the request. A lease ends when it expires or the account is paused (`pausedUntilMs`).
   */
  take(connectionId: string, bucket: string, count: number, nowMs: number, pausedUntilMs: number): number | undefined {
    const key = keyOf(connectionId, bucket);
    const lease = this.leases.get(key);
    if (lease === undefined) return undefined;
    if (lease.expiresAtMs <= nowMs || pausedUntilMs > nowMs) {
      this.leases.delete(key);
      return undefined;
    }
    if (lease.remaining < count) return undefined;
    lease.remaining -= count;
    if (lease.remaining === 0) this.leases.delete(key);
    return lease.validFromMs;
  }

  /** Keeps the `remaining` tokens of a grant reserved at `atMs` for the next takes of the bucket. */
  hold(connectionId: string, bucket: string, remaining: number, atMs: number): void {
    this.leases.set(keyOf(connectionId, bucket), { remaining, validFromMs: atMs, expiresAtMs: atMs + this.leaseMs });
  }

  /** Drops every lease of the account (it is being paused). */
  drop(connectionId: string): void {
    const prefix = keyOf(connectionId, '');
    for (const key of this.leases.keys()) if (key.startsWith(prefix)) this.leases.delete(key);
  }
}

function keyOf(connectionId: string, bucket: string): string {
  return `${connectionId}\u0000${bucket}`;
}
