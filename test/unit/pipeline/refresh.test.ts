import { describe, expect, it } from 'vitest';
import { occurrenceOf } from '../../../src/pipeline/refresh';
import { scheduledRunId } from '../../../src/pipeline/runs';

describe('schedule occurrences', () => {
  it('gives every tick of one occurrence the same run id, early or late', () => {
    const ids = ['2026-11-23T01:59:59.500Z', '2026-11-23T02:00:00.000Z', '2026-11-23T02:00:07.000Z'].map((at) =>
      scheduledRunId('exp-1', occurrenceOf('0 0 2 * * *', new Date(at))),
    );
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toBe('sched-20261123T020000-exp-1');
  });

  it('finds the previous occurrence when it is more than a day away', () => {
    expect(occurrenceOf('0 0 2 * * 1', new Date('2026-11-27T12:00:00Z')).toISOString()).toBe('2026-11-23T02:00:00.000Z');
    expect(occurrenceOf('0 0 2 * * *', new Date('2026-11-23T01:00:00Z')).toISOString()).toBe('2026-11-22T02:00:00.000Z');
  });
});
