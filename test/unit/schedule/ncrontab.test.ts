import { describe, expect, it } from 'vitest';
import { parseNcrontab } from '../../../src/schedule/ncrontab';

const next = (expression: string, after: string) => parseNcrontab(expression).next(new Date(after)).toISOString();

describe('NCRONTAB schedules', () => {
  it('runs the default refresh daily at 02:00 UTC', () => {
    expect(next('0 0 2 * * *', '2026-11-23T01:59:59Z')).toBe('2026-11-23T02:00:00.000Z');
    expect(next('0 0 2 * * *', '2026-11-23T02:00:00Z')).toBe('2026-11-24T02:00:00.000Z');
  });

  it('reads steps, ranges, lists and names', () => {
    expect(next('*/15 * * * * *', '2026-01-01T00:00:14Z')).toBe('2026-01-01T00:00:15.000Z');
    expect(next('0 30 9-17/4 * * mon-fri', '2026-11-21T12:00:00Z')).toBe('2026-11-23T09:30:00.000Z');
    expect(next('0 0 0 1 jan,jul *', '2026-02-01T00:00:00Z')).toBe('2026-07-01T00:00:00.000Z');
  });

  it('requires both the day and the day of the week to match, like NCrontab', () => {
    // The 13th that is a Friday.
    expect(next('0 0 0 13 * 5', '2026-01-01T00:00:00Z')).toBe('2026-02-13T00:00:00.000Z');
  });

  it('treats 7 as Sunday', () => {
    expect(next('0 0 0 * * 7', '2026-11-23T00:00:00Z')).toBe('2026-11-29T00:00:00.000Z');
  });

  it.each([
    ['0 2 * * *', /6 fields/],
    ['60 * * * * *', /outside 0-59/],
    ['* * * 0 * *', /outside 1-31/],
    ['* * * * foo *', /not a value of the month field/],
    ['*/0 * * * * *', /bad step/],
    ['* * 5-2 * * *', /backwards/],
  ])('refuses %s', (expression, reason) => {
    expect(() => parseNcrontab(expression)).toThrow(reason);
  });
});
