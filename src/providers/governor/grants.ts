// Granting slots, pure: from one read of the account's row, the decision for every take of a batch
// (a reserved slot, or how long to wait) and the counters with the granted slots recorded, after
// the grants this instance used late have been moved to the time they were used.
import { pausedUntil } from './pauses';
import type { GovernorState } from './state';
import { earliestSlot, move, pacedSlot, prune, record, type Entry, type WindowCounter } from './window';

/** One take of a batch: `count` tokens asked, `tokens` to reserve (more when it leases). */
export interface GrantRequest {
  bucket: string;
  count: number;
  tokens: number;
  counters: WindowCounter[];
}

/**
 * A grant used after its slot (the caller woke up late, or the table write that reserved it
 * finished late): its tokens are counted from when it was used (`toMs`).
 */
export interface LateGrant {
  counters: WindowCounter[];
  fromMs: number;
  toMs: number;
  tokens: number;
}

export type Decision = { kind: 'granted'; atMs: number; tokens: number } | { kind: 'denied'; waitMs: number };

export interface GrantTiming {
  /** When the row was read. */
  readAtMs: number;
  /** The earliest slot worth reserving: the read plus the time a write takes here. */
  earliestMs: number;
  /** How late a request may reach the provider after it was sent at its slot. */
  marginMs: number;
  /** How far beyond `earliestMs` a slot may be reserved; a later one is denied. */
  maxAheadMs: number;
}

export interface GrantPlan {
  decisions: Decision[];
  /** The row's counters with every granted slot recorded (and stale grants pruned). */
  counters: Record<string, Entry[]>;
}

/**
 * Moves the `late` grants to when they were used, then decides every take of `batch` in order, each
 * seeing the slots granted before it.
 */
export function planGrants(state: GovernorState, batch: readonly GrantRequest[], late: readonly LateGrant[], timing: GrantTiming): GrantPlan {
  const { readAtMs, earliestMs, marginMs, maxAheadMs } = timing;
  const counters: Record<string, Entry[]> = { ...state.counters };
  const live = (counter: WindowCounter) => (counters[counter.name] = prune(counters[counter.name] ?? [], counter, readAtMs));
  for (const grant of late) {
    for (const counter of grant.counters) counters[counter.name] = move(live(counter), grant.fromMs, grant.toMs, counter.sliceMs, grant.tokens);
  }
  const decisions: Decision[] = [];
  // One lease per bucket and round trip: the other callers of the batch take only what they asked.
  const leased = new Set<string>();
  for (const request of batch) {
    const pausedForMs = pausedUntil(state, request.bucket) - readAtMs;
    if (pausedForMs > 0) {
      decisions.push({ kind: 'denied', waitMs: Math.ceil(pausedForMs) });
      continue;
    }
    const tokens = leased.has(request.bucket) ? request.count : request.tokens;
    const slotMs = Math.max(
      ...request.counters.map((counter) => {
        const entries = live(counter);
        return Math.max(earliestSlot(entries, counter, marginMs, tokens, earliestMs), pacedSlot(entries, counter, earliestMs));
      }),
    );
    if (slotMs - earliestMs > maxAheadMs) {
      decisions.push({ kind: 'denied', waitMs: Math.max(1, Math.ceil(slotMs - earliestMs - maxAheadMs)) });
      continue;
    }
    for (const counter of request.counters) counters[counter.name] = record(live(counter), slotMs, counter.sliceMs, tokens);
    if (tokens > request.count) leased.add(request.bucket);
    decisions.push({ kind: 'granted', atMs: slotMs, tokens });
  }
  return { decisions, counters };
}

/** How long a table write may take here: a decaying maximum of the round trips seen, 5 to 200 ms. */
export function nextWriteLeadMs(previousMs: number, roundTripMs: number): number {
  return Math.min(200, Math.max(5, 0.95 * previousMs, 1.5 * roundTripMs));
}
