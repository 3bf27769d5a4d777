import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChunkOperation } from '../../../src/domain/provider';
import { currentRequest, MAX_ISOLATED_RECORDS, moveOn, readProgress, savedState, type ChunkProgress } from '../../../src/pipeline/send/bisect';
import type { DeliveryAction } from '../../../src/pipeline/send/policy';
import type { ProviderAdapter } from '../../../src/providers/types';

/** Only `start` matters to the split: each part starts the adapter's state machine afresh. */
const adapter = { start: () => ({ fresh: true }) } as unknown as ProviderAdapter;

const chunk = (size: number): ChunkOperation => ({
  kind: 'upsert',
  target: { provider: 'iterable', listId: 1, listName: 'l' },
  records: Array.from({ length: size }, (_, i) => ({ email: `r${i}@example.com`, fields: {}, isNew: true })),
});

/**
 * A provider that refuses a whole request when it carries a bad record, delivering each request
 * as the sender would, with the progress saved and read back as JSON between requests (a crash
 * or a redelivery at any point resumes from it).
 */
function deliver(size: number, bad: ReadonlySet<number>) {
  const operation = chunk(size);
  let progress: ChunkProgress = readProgress(undefined, operation, adapter);
  const delivered: string[] = [];
  for (let requests = 1; requests < 10 * size + 10; requests++) {
    const request = currentRequest(operation, progress);
    const emails = request.operation.kind === 'upsert' ? request.operation.records.map((record) => record.email) : request.operation.emails;
    const refused = emails.some((email) => bad.has(Number(email.slice(1).split('@')[0])));
    const action: DeliveryAction = !refused ? { kind: 'confirm' } : request.records > 1 ? { kind: 'bisect' } : { kind: 'reject-record', reason: 'HTTP 400: bad record' };
    if (!refused) delivered.push(...emails);
    const move = moveOn(action, operation, progress, [], adapter);
    if (!move) throw new Error('every action here moves the split');
    if (move.kind !== 'progress') return { move, requests, delivered };
    progress = readProgress(JSON.stringify(savedState(move.progress)), operation, adapter);
  }
  throw new Error('the split did not end');
}

describe('bisecting a refused chunk', () => {
  it('isolates one poisoned record of 1,000 within 2 x ceil(log2 1000) = 20 extra requests and delivers the 999 once each', () => {
    const { move, requests, delivered } = deliver(1_000, new Set([617]));
    expect(move).toEqual({ kind: 'confirm', rejects: [{ email: 'r617@example.com', code: 'provider_rejected', reason: 'HTTP 400: bad record' }] });
    expect(requests - 1).toBeLessThanOrEqual(20);
    expect(delivered).toHaveLength(999);
    expect(new Set(delivered).size).toBe(999);
  });

  it('costs at most 2 x ceil(log2 n) extra requests per bad record, and delivers every good one exactly once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 1_000 }).chain((size) => fc.tuple(fc.constant(size), fc.uniqueArray(fc.integer({ min: 0, max: size - 1 }), { minLength: 1, maxLength: MAX_ISOLATED_RECORDS }))), ([size, badList]) => {
        const bad = new Set(badList);
        const { move, requests, delivered } = deliver(size, bad);
        expect(move.kind).toBe('confirm');
        if (move.kind !== 'confirm') return;
        expect(move.rejects.map((reject) => reject.email).sort()).toEqual([...bad].map((i) => `r${i}@example.com`).sort());
        expect(requests - 1).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(size)) * bad.size);
        const good = Array.from({ length: size }, (_, i) => i).filter((i) => !bad.has(i)).map((i) => `r${i}@example.com`);
        expect(delivered.sort()).toEqual(good.sort());
      }),
      { numRuns: 60 },
    );
  });

  it('gives the chunk up when the refusal is not about records (every record refused), within a bounded number of requests', () => {
    const size = 1_000;
    const { move, requests } = deliver(size, new Set(Array.from({ length: size }, (_, i) => i)));
    expect(move).toMatchObject({ kind: 'fail-chunk', reason: expect.stringMatching(/more than 10 of this chunk's records/) as string });
    expect(requests).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(size)) * (MAX_ISOLATED_RECORDS + 1));
  });

  it('reads a state saved before there was a split as the whole chunk', () => {
    const operation = chunk(3);
    expect(readProgress(JSON.stringify({ phase: 'import', failures: 0 }), operation, adapter)).toEqual({ kind: 'whole', state: { phase: 'import', failures: 0 } });
  });
});
