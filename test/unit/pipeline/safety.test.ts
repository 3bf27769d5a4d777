import { describe, expect, it } from 'vitest';
import { chooseExistenceMode } from '../../../src/pipeline/plan/directory';
import { safetyVerdict, type SurveyCounts } from '../../../src/pipeline/plan/safety';

const DEFAULTS = { maxRemoveShare: 0.2, maxInvalidShare: 0.5 };
const counts = (over: Partial<SurveyCounts>): SurveyCounts => ({ profiles: 1_000, invalid: 0, adds: 0, removes: 0, held: 1_000, ...over });

describe('safetyVerdict: what stops a run before it sends', () => {
  it.each([
    { case: 'nothing unusual', counts: counts({}), thresholds: DEFAULTS, expected: undefined },
    { case: 'removals at the share exactly', counts: counts({ removes: 200 }), thresholds: DEFAULTS, expected: undefined },
    { case: 'removals over the share', counts: counts({ removes: 201 }), thresholds: DEFAULTS, expected: 'removal_threshold_exceeded' },
    { case: 'over the share but fewer than 100 removals', counts: counts({ removes: 99, held: 100 }), thresholds: DEFAULTS, expected: undefined },
    { case: '100 removals of 100 held', counts: counts({ removes: 100, held: 100 }), thresholds: DEFAULTS, expected: 'removal_threshold_exceeded' },
    { case: 'removal share turned off', counts: counts({ removes: 900 }), thresholds: { ...DEFAULTS, maxRemoveShare: null }, expected: undefined },
    { case: 'half the emails invalid', counts: counts({ invalid: 500 }), thresholds: DEFAULTS, expected: undefined },
    { case: 'more than half invalid', counts: counts({ invalid: 501 }), thresholds: DEFAULTS, expected: 'invalid_threshold_exceeded' },
    { case: 'invalid share turned off', counts: counts({ invalid: 999 }), thresholds: { ...DEFAULTS, maxInvalidShare: null }, expected: undefined },
    { case: 'both: invalid emails named first', counts: counts({ invalid: 900, removes: 900 }), thresholds: DEFAULTS, expected: 'invalid_threshold_exceeded' },
    { case: 'an empty segment holds no profiles', counts: counts({ profiles: 0, held: 0 }), thresholds: DEFAULTS, expected: undefined },
    { case: 'a stricter share', counts: counts({ removes: 101 }), thresholds: { ...DEFAULTS, maxRemoveShare: 0.1 }, expected: 'removal_threshold_exceeded' },
  ])('$case → $expected', ({ counts: surveyed, thresholds, expected }) => {
    expect(safetyVerdict(surveyed, thresholds)).toBe(expected);
  });
});

describe('chooseExistenceMode: lookups or one listing, whichever asks Omnisend less', () => {
  it.each([
    { case: 'few adds, brand size unknown', adds: 500, known: undefined, expected: 'lookup' },
    { case: 'many adds, brand size unknown', adds: 501, known: undefined, expected: 'listing' },
    { case: 'adds fewer than the listing pages', adds: 3_999, known: 1_000_000, expected: 'lookup' },
    { case: 'adds equal to the listing pages', adds: 4_000, known: 1_000_000, expected: 'lookup' },
    { case: 'adds more than the listing pages', adds: 4_001, known: 1_000_000, expected: 'listing' },
    { case: 'an empty brand: one page', adds: 2, known: 0, expected: 'listing' },
  ])('$case → $expected', ({ adds, known, expected }) => {
    expect(chooseExistenceMode(adds, known, 250)).toBe(expected);
  });
});
