import { describe, expect, it } from 'vitest';
import { nextPause } from '../../../src/providers/governor/pauses';
import type { AccountPause } from '../../../src/providers/governor/state';

/** A 429 at 10,000 ms asks for a pause; what the account's row records. The ceiling is 60 s. */
const NOW_MS = 10_000;
const NONE: AccountPause = { untilMs: 0, durationMs: 0, streak: 0 };

describe('nextPause', () => {
  it.each<[string, AccountPause, number, boolean, AccountPause]>([
    ['pauses until the time the provider named', NONE, 11_000, false, { untilMs: 11_000, durationMs: 1_000, streak: 0 }],
    ['pauses for nothing when the time has passed', NONE, 9_000, false, { untilMs: NOW_MS, durationMs: 0, streak: 0 }],
    ['keeps a longer pause in force', { untilMs: 12_000, durationMs: 2_000, streak: 0 }, 11_000, false, { untilMs: 12_000, durationMs: 2_000, streak: 0 }],
    [
      'keeps the pause in force for a default wait of the same burst, however long',
      { untilMs: 10_500, durationMs: 400, streak: 1 },
      20_000,
      true,
      { untilMs: 10_500, durationMs: 400, streak: 1 },
    ],
    ['doubles a default wait soon after the last pause ended', { untilMs: 9_800, durationMs: 400, streak: 0 }, 10_400, true, { untilMs: 10_800, durationMs: 800, streak: 1 }],
    ['takes the asked wait when it is longer than the doubled one', { untilMs: 9_800, durationMs: 400, streak: 2 }, 11_000, true, { untilMs: 11_000, durationMs: 1_000, streak: 3 }],
    ['doubles at most up to the ceiling', { untilMs: 9_800, durationMs: 40_000, streak: 3 }, 10_400, true, { untilMs: 70_000, durationMs: 60_000, streak: 4 }],
    ['starts over long after the last pause ended', { untilMs: 9_000, durationMs: 400, streak: 2 }, 10_400, true, { untilMs: 10_400, durationMs: 400, streak: 0 }],
    ['never doubles a wait the provider named', { untilMs: 9_800, durationMs: 400, streak: 0 }, 10_400, false, { untilMs: 10_400, durationMs: 400, streak: 0 }],
  ])('%s', (_what, previous, untilMs, escalate, expected) => {
    expect(nextPause(previous, untilMs, NOW_MS, escalate, 60_000)).toEqual(expected);
  });

  it('answers the pause in force itself when it covers the request, so nothing is written', () => {
    const inForce: AccountPause = { untilMs: 12_000, durationMs: 2_000, streak: 0 };
    expect(nextPause(inForce, 11_000, NOW_MS, false, 60_000)).toBe(inForce);
  });
});
