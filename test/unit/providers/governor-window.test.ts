import { describe, expect, it } from 'vitest';
import {
  compact,
  earliestSlot,
  move,
  MAX_ENTRIES_PER_COUNTER,
  prune,
  record,
  unrecord,
  windowCounter,
  type Entry,
  type WindowCounter,
} from '../../../src/providers/governor/window';

/**
 * The governor's sliding-window math, read as a spec. Unless a row says otherwise the counter is
 * Iterable's: 5 requests a second, so slices of 2 ms and a spacing of 1,002 ms (window + slice).
 */
const iterable = windowCounter({ name: 'api', limit: 5, windowMs: 1_000 }, 0);

describe('windowCounter', () => {
  it.each([
    ['5 a second', { limit: 5, windowMs: 1_000 }, 0, { sliceMs: 2, spacingMs: 1_002 }],
    ['36,000 an hour', { limit: 36_000, windowMs: 3_600_000 }, 0, { sliceMs: 7_200, spacingMs: 3_607_200 }],
    ['a leasing counter, its spacing widened by the lease', { limit: 10_000, windowMs: 1_000 }, 20, { sliceMs: 2, spacingMs: 1_022 }],
    ['a window shorter than 500 ms, slices of at least 1 ms', { limit: 1, windowMs: 100 }, 0, { sliceMs: 1, spacingMs: 101 }],
  ])('cuts %s into slices', (_what, limit, extraSpacingMs, expected) => {
    expect(windowCounter({ name: 'c', ...limit }, extraSpacingMs)).toEqual({ name: 'c', ...limit, ...expected });
  });
});

describe('prune', () => {
  // At 10,000 a grant still counts while its slice start + spacing + the longest margin (1,000 ms)
  // reaches past one slice ago: starts after 7,996.
  it.each<[string, Entry[], Entry[]]>([
    ['nothing from nothing', [], []],
    ['drops a grant too old to constrain any slot', [[7_996, 1]], []],
    ['keeps the oldest grant that may still constrain one', [[7_998, 1]], [[7_998, 1]]],
    ['keeps reservations ahead of now', [[10_040, 2]], [[10_040, 2]]],
    ['sorts by slice start', [[9_500, 1], [8_000, 2], [10_020, 3]], [[8_000, 2], [9_500, 1], [10_020, 3]]],
  ])('%s', (_what, entries, expected) => {
    expect(prune(entries, iterable, 10_000)).toEqual(expected);
  });
});

describe('earliestSlot', () => {
  it.each<[string, Entry[], { count?: number; marginMs?: number; counter?: WindowCounter }, number]>([
    ['any time when nothing was granted', [], {}, 10_001],
    ['the asked time while the window has room', [[9_500, 4]], {}, 10_001],
    ['the slice where the oldest grant stops counting once the window is full', [[9_500, 5]], {}, 10_502],
    ['later by the margin', [[9_500, 5]], { marginMs: 10 }, 10_512],
    ['later by at most the longest margin (1 s)', [[9_500, 5]], { marginMs: 5_000 }, 11_502],
    ['the asked time when the full window is older than spacing + margin', [[8_998, 5]], {}, 10_001],
    ['the slice where enough grants stop counting for all the tokens asked', [[9_000, 2], [9_500, 3]], { count: 2 }, 10_002],
    ['after reservations already made ahead of now', [[10_100, 5]], {}, 11_102],
    ['one spacing later when even an empty window cannot hold the count', [], { count: 6 }, 11_003],
    ['the limit of the counter it is asked about', [[9_500, 1]], { counter: windowCounter({ name: 'one', limit: 1, windowMs: 1_000 }, 0) }, 10_502],
  ])('answers %s', (_what, entries, { count = 1, marginMs = 0, counter = iterable }, expected) => {
    expect(earliestSlot(entries, counter, marginMs, count, 10_001)).toBe(expected);
  });

  it.each([
    ['5 a second', iterable, 0],
    ['5 a second with a 15 ms margin', iterable, 15],
    ['60 a minute', windowCounter({ name: 'tags', limit: 60, windowMs: 60_000 }, 0), 15],
    ['10 a second, two at a time', windowCounter({ name: 'contacts', limit: 10, windowMs: 1_000 }, 0), 8],
  ])('never lets limit + 1 grants fall within spacing + margin: %s', (_what, counter, marginMs) => {
    let entries: Entry[] = [];
    const slots: number[] = [];
    const count = counter.limit >= 10 ? 2 : 1;
    for (let nowMs = 0; slots.length < 10 * counter.limit; nowMs += counter.windowMs / 7) {
      entries = prune(entries, counter, nowMs);
      const slotMs = earliestSlot(entries, counter, marginMs, count, nowMs);
      entries = record(entries, slotMs, counter.sliceMs, count);
      for (let i = 0; i < count; i += 1) slots.push(Math.floor(slotMs / counter.sliceMs) * counter.sliceMs);
    }
    for (let k = counter.limit; k < slots.length; k += 1) {
      expect(slots[k]! - slots[k - counter.limit]!).toBeGreaterThanOrEqual(counter.spacingMs + marginMs);
    }
  });
});

describe('record', () => {
  it.each<[string, Entry[], number, number, Entry[]]>([
    ['starts a list', [], 10_001, 1, [[10_000, 1]]],
    ['adds to the slice that holds the time', [[10_000, 1]], 10_001, 2, [[10_000, 3]]],
    ['inserts a new slice in order', [[9_000, 1], [11_000, 1]], 10_000, 1, [[9_000, 1], [10_000, 1], [11_000, 1]]],
  ])('%s', (_what, entries, atMs, count, expected) => {
    expect(record(entries, atMs, 2, count)).toEqual(expected);
  });

  it('compacts a list that grows past the most a row may hold', () => {
    const full = Array.from({ length: MAX_ENTRIES_PER_COUNTER }, (_, i): Entry => [i * 10, 1]);
    const grown = record(full, MAX_ENTRIES_PER_COUNTER * 10, 2, 1);
    expect(grown).toHaveLength(Math.ceil((MAX_ENTRIES_PER_COUNTER + 1) / 2));
    expect(grown.reduce((sum, [, n]) => sum + n, 0)).toBe(MAX_ENTRIES_PER_COUNTER + 1);
  });
});

describe('unrecord', () => {
  it.each<[string, Entry[], number, Entry[]]>([
    ['takes tokens back from their slice', [[9_000, 1], [10_000, 3]], 2, [[9_000, 1], [10_000, 1]]],
    ['drops a slice left with none', [[9_000, 1], [10_000, 2]], 2, [[9_000, 1]]],
    ['leaves a list without that slice as it is (a compacted grant stays counted)', [[9_000, 1], [10_010, 2]], 2, [[9_000, 1], [10_010, 2]]],
  ])('%s', (_what, entries, count, expected) => {
    expect(unrecord(entries, 10_001, 2, count)).toEqual(expected);
  });
});

describe('compact', () => {
  const list = (length: number) => Array.from({ length }, (_, i): Entry => [i * 10, 1]);

  it.each<[string, Entry[], Entry[]]>([
    ['leaves a list of at most 250 entries alone', list(250), list(250)],
    ['merges pairs into the later entry', list(252), Array.from({ length: 126 }, (_, i): Entry => [i * 20 + 10, 2])],
    ['keeps an odd last entry as it is', list(251), [...Array.from({ length: 125 }, (_, i): Entry => [i * 20 + 10, 2]), [2_500, 1]]],
  ])('%s', (_what, entries, expected) => {
    expect(compact(entries)).toEqual(expected);
  });
});

describe('move', () => {
  it.each<[string, Entry[], { fromMs: number; toMs: number; count: number }, Entry[]]>([
    ['moves a late grant to the slice it was used in', [[9_000, 3]], { fromMs: 9_001, toMs: 9_071, count: 1 }, [[9_000, 2], [9_070, 1]]],
    ['moves every token of a grant, the slice emptied goes', [[9_000, 2], [9_500, 1]], { fromMs: 9_000, toMs: 9_600, count: 2 }, [[9_500, 1], [9_600, 2]]],
    ['adds at the later time what compaction already moved away, and takes nothing else', [[9_100, 2]], { fromMs: 9_000, toMs: 9_200, count: 1 }, [[9_100, 2], [9_200, 1]]],
    ['takes what the slice holds when it holds fewer than moved', [[9_000, 1]], { fromMs: 9_000, toMs: 9_100, count: 2 }, [[9_100, 2]]],
  ])('%s', (_what, entries, { fromMs, toMs, count }, expected) => {
    expect(move(entries, fromMs, toMs, iterable.sliceMs, count)).toEqual(expected);
  });

  it('keeps the limit when a grant is used late: the next window waits for it', () => {
    // Five grants at 10,000, one used at 10,070: a sixth goes a spacing after the four, but five more
    // only a spacing after the late one.
    const entries = move([[10_000, 5]], 10_000, 10_070, iterable.sliceMs, 1);
    expect(earliestSlot(entries, iterable, 0, 1, 10_500)).toBe(11_002);
    expect(earliestSlot(entries, iterable, 0, 5, 10_500)).toBe(11_072);
  });
});
