// The sliding-window math of the rate governor, pure: a counter allows `limit` grants per window,
// and its grants are kept as a short list of `[sliceStartMs, count]` entries (the window cut into
// `SLICES_PER_WINDOW` slices, so the list stays small even for 36,000 an hour). A slot is chosen so
// that no `limit + 1` grants ever lie within `spacing + margin` of each other.
import type { RateLimit } from '../limits';

/** `[sliceStartMs, grants]`: the grants whose slots fall in the slice starting then. */
export type Entry = [number, number];

/** One counter of a bucket as the window math sees it. */
export interface WindowCounter extends RateLimit {
  name: string;
  sliceMs: number;
  /** No `limit + 1` grants have slice starts closer than this plus the margin: window + slice (+ lease). */
  spacingMs: number;
}

export const SLICES_PER_WINDOW = 500;

/** The longest margin ever used: grants older than this cannot constrain a new slot. */
export const MAX_MARGIN_MS = 1_000;

/** Keeps a row well under Table storage's 64 KiB per property whatever the rate. */
export const MAX_ENTRIES_PER_COUNTER = 250;

/** A counter cut into slices; `extraSpacingMs` widens its spacing (the lease time of a leasing counter). */
export function windowCounter(counter: { name: string } & RateLimit, extraSpacingMs: number): WindowCounter {
  const sliceMs = Math.max(1, Math.floor(counter.windowMs / SLICES_PER_WINDOW));
  return { ...counter, sliceMs, spacingMs: counter.windowMs + sliceMs + extraSpacingMs };
}

/** The start of the slice holding `atMs`. */
export function sliceStart(atMs: number, sliceMs: number): number {
  return Math.floor(atMs / sliceMs) * sliceMs;
}

/** Grants that may still constrain a slot at or after `nowMs`, sorted by slice start. */
export function prune(entries: Entry[], counter: WindowCounter, nowMs: number): Entry[] {
  return entries
    .filter(([start]) => start + counter.spacingMs + MAX_MARGIN_MS > nowMs - counter.sliceMs)
    .sort((a, b) => a[0] - b[0]);
}

/**
 * The earliest time from `fromMs` whose slice may take `count` more grants: only grants in
 * slices later than `slice - spacing - margin` (future reservations included) count against it.
 * `entries` must be sorted (as `prune` leaves them).
 */
export function earliestSlot(entries: Entry[], counter: WindowCounter, marginMs: number, count: number, fromMs: number): number {
  const spacingMs = counter.spacingMs + Math.min(marginMs, MAX_MARGIN_MS);
  const from = sliceStart(fromMs, counter.sliceMs);
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

/** Counters of windows up to this long are paced: their grants are spread evenly, not sent in bursts. */
export const PACED_WINDOW_MS = 1_000;

/**
 * The earliest time from `fromMs` at which a paced counter may grant again: `window / limit` per
 * grant after the latest slice recorded (reservations ahead of now included). The window alone
 * would let a second's five Iterable requests go at once, and a provider reads a burst one request
 * after the other: the last of the five may then be counted so late that the next second's burst
 * finds it still in the window. Spread out, each request arrives on its own, at the same rate.
 * Longer windows (whose slices absorb a burst) and leasing counters are not paced.
 */
export function pacedSlot(entries: Entry[], counter: WindowCounter, fromMs: number): number {
  const leasing = counter.spacingMs > counter.windowMs + counter.sliceMs;
  const latest = entries[entries.length - 1];
  if (counter.windowMs > PACED_WINDOW_MS || leasing || latest === undefined) return fromMs;
  return Math.max(fromMs, latest[0] + (latest[1] * counter.windowMs) / counter.limit);
}

/** Adds `count` grants at `atMs` (sorted entries in, sorted entries out, compacted when long). */
export function record(entries: Entry[], atMs: number, sliceMs: number, count: number): Entry[] {
  const slice = sliceStart(atMs, sliceMs);
  const existing = entries.findIndex(([start]) => start === slice);
  if (existing >= 0) return entries.map((entry, i): Entry => (i === existing ? [slice, entry[1] + count] : entry));
  return compact([...entries, [slice, count] as Entry].sort((a, b) => a[0] - b[0]));
}

/**
 * Takes back `count` grants recorded at `atMs` (a grant moved later); an entry left with none goes. Grants
 * that `compact` moved to a later slice stay counted, which only costs capacity.
 */
export function unrecord(entries: Entry[], atMs: number, sliceMs: number, count: number): Entry[] {
  const slice = sliceStart(atMs, sliceMs);
  return entries.map((entry): Entry => (entry[0] === slice ? [entry[0], entry[1] - count] : entry)).filter(([, n]) => n > 0);
}

/**
 * Moves `count` grants recorded at `fromMs` to the later `toMs`: a request that went out late is
 * counted when it went. Grants that `compact` already moved out of `fromMs`'s slice are only added
 * at `toMs`; whatever moves later counts against more future slots, never fewer, so the limit still
 * holds (at worst a little capacity is lost).
 */
export function move(entries: Entry[], fromMs: number, toMs: number, sliceMs: number, count: number): Entry[] {
  const from = sliceStart(fromMs, sliceMs);
  const held = entries.find(([start]) => start === from)?.[1] ?? 0;
  return record(unrecord(entries, fromMs, sliceMs, Math.min(held, count)), toMs, sliceMs, count);
}

/**
 * Halves a long list by merging neighbours into the later one: a grant moved later only counts
 * against more slots, never fewer, so the limit still holds (a little capacity is lost).
 */
export function compact(entries: Entry[]): Entry[] {
  if (entries.length <= MAX_ENTRIES_PER_COUNTER) return entries;
  const merged: Entry[] = [];
  for (let i = 0; i < entries.length; i += 2) {
    const [first, second] = [entries[i]!, entries[i + 1]];
    merged.push(second === undefined ? first : [second[0], first[1] + second[1]]);
  }
  return merged;
}
