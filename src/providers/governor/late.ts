// Late grants: a grant used after its slot (a busy process woke its caller late, or the table write
// that reserved it finished late) is still used, and counted from when it was used. This instance
// keeps such grants and its next round trip for the account moves them in the row (grants.ts), so
// every instance then chooses the next window's slots around when the requests really went; when
// no round trip comes soon, a timer makes one. Either lands long before a slot of the next window is
// chosen, which is the only moment the move matters.
import type { LateGrant } from './grants';
import type { GovernorAccount } from './types';

/** A grant used this much after its slot (timer granularity) is counted from when it was used. */
export const LATE_TOLERANCE_MS = 2;

/** How long a late grant may wait for a round trip: a tenth of the shortest window, 5 to 250 ms. */
export function flushDelayMs(grant: LateGrant): number {
  return Math.max(5, Math.min(250, Math.min(...grant.counters.map((counter) => counter.windowMs)) / 10));
}

interface Pending {
  account: GovernorAccount;
  grants: LateGrant[];
  timer?: NodeJS.Timeout;
}

export class LateGrants {
  private readonly pending = new Map<string, Pending>();

  /** `flush` makes a round trip for the account that writes what it holds. */
  constructor(private readonly flush: (account: GovernorAccount) => void) {}

  add(account: GovernorAccount, grant: LateGrant): void {
    const pending = this.pending.get(account.connectionId) ?? { account, grants: [] };
    pending.grants.push(grant);
    this.pending.set(account.connectionId, pending);
    this.arm(pending, flushDelayMs(grant));
  }

  /** The late grants a round trip of the account should write (they stay held until `settle`). */
  claim(connectionId: string): LateGrant[] {
    return [...(this.pending.get(connectionId)?.grants ?? [])];
  }

  /** `written` are in the row now: forget them. */
  settle(connectionId: string, written: readonly LateGrant[]): void {
    const pending = this.pending.get(connectionId);
    if (pending === undefined || written.length === 0) return;
    pending.grants = pending.grants.filter((grant) => !written.includes(grant));
    if (pending.grants.length > 0) return;
    clearTimeout(pending.timer);
    this.pending.delete(connectionId);
  }

  /** A round trip could not write them (contention): try again a moment later. */
  retry(connectionId: string): void {
    const pending = this.pending.get(connectionId);
    if (pending !== undefined) this.arm(pending, 5 + Math.random() * 20);
  }

  private arm(pending: Pending, delayMs: number): void {
    if (pending.timer !== undefined) return;
    pending.timer = setTimeout(() => {
      pending.timer = undefined;
      if (pending.grants.length > 0) this.flush(pending.account);
    }, delayMs);
    pending.timer.unref();
  }
}
