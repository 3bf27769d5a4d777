// Granting slots, pure: from one read of the account's row, the decision for every take of a batch
// (a reserved slot, or how long to wait) and the counters with the granted slots recorded; then,
// once the row is written, which grants came too late to be used.
import { pausedUntil } from './pauses';
import type { GovernorState } from './state';
import { earliestSlot, prune, record, type Entry, type WindowCounter } from './window';

/** One take of a batch: `count` tokens asked, `tokens` to reserve (more when it leases). */
export interface GrantRequest {
  bucket: string;
  count: number;
  tokens: number;
  counters: WindowCounter[];
}

export type Decision = { kind: 'granted'; atMs: number; tokens: number } | { kind: 'denied'; waitMs: number };

export interface GrantTiming {
  /** When the row was read. */
  readAtMs: number;
  /** The earliest slot worth reserving: the read plus the time a write takes here. */
  earliestMs: number;
  /** How late a request may reach the provider after its slot (the margin plus recent loop lag). */
  marginMs: number;
  /** How far beyond `earliestMs` a slot may be reserved; a later one is denied. */
  maxAheadMs: number;
}

export interface GrantPlan {
  decisions: Decision[];
  /** The row's counters with every granted slot recorded (and stale grants pruned). */
  counters: Record<string, Entry[]>;
}

/** Decides every take of `batch` in order, each seeing the slots granted before it. */
export function planGrants(state: GovernorState, batch: readonly GrantRequest[], timing: GrantTiming): GrantPlan {
  const { readAtMs, earliestMs, marginMs, maxAheadMs } = timing;
  const counters: Record<string, Entry[]> = { ...state.counters };
  const decisions: Decision[] = [];
  // One lease per bucket and round trip: the other callers of the batch take only what they asked.
  const leased = new Set<string>();
  const live = (counter: WindowCounter) => (counters[counter.name] = prune(counters[counter.name] ?? [], counter, readAtMs));
  for (const request of batch) {
    const pausedForMs = pausedUntil(state, request.bucket) - readAtMs;
    if (pausedForMs > 0) {
      decisions.push({ kind: 'denied', waitMs: Math.ceil(pausedForMs) });
      continue;
    }
    const tokens = leased.has(request.bucket) ? request.count : request.tokens;
    const slotMs = Math.max(...request.counters.map((counter) => earliestSlot(live(counter), counter, marginMs, tokens, earliestMs)));
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

/**
 * The write finished after a grant's slot (beyond `toleranceMs`): a request sent now could reach
 * the provider inside a window the choice of slot considered closed. Such grants are not used.
 */
export function isLate(decision: Decision, writtenAtMs: number, toleranceMs: number): decision is Extract<Decision, { kind: 'granted' }> {
  return decision.kind === 'granted' && writtenAtMs > decision.atMs + toleranceMs;
}

/** How long a table write may take here: a decaying maximum of the round trips seen, 5 to 200 ms. */
export function nextWriteLeadMs(previousMs: number, roundTripMs: number): number {
  return Math.min(200, Math.max(5, 0.95 * previousMs, 1.5 * roundTripMs));
}
