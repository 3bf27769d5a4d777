import { describe, expect, it } from 'vitest';
import type { RejectRow } from '../../../src/domain/run';
import { chunkRejectKey, getRejectsPage, PlannerRejects, upsertRejects } from '../../../src/pipeline/store/rejects';
import { createTestContext } from '../../support/context';

describe('run rejects', () => {
  it('pages through the planner rejects of every target and then the provider rejects, each exactly once', async () => {
    const context = await createTestContext();
    const planner = new PlannerRejects(context, 'run-1');
    const expected: RejectRow[] = [];
    for (const [target, count] of [[0, 4], [1, 3]] as const) {
      for (let i = 0; i < count; i++) {
        const row = { email: `bad ${target}-${i} ☃`, segmentId: `s${target}`, code: 'invalid_email', reason: 'The domain is not valid' };
        await planner.add(target, row);
        expected.push(row);
      }
    }
    await planner.close();
    const provider = [0, 1].map((index) => ({
      rowKey: chunkRejectKey(5, index),
      email: `p${index}@example.invalid`,
      segmentId: 's0',
      code: 'provider_rejected',
      reason: 'invalidEmails: rejected',
      target: 't',
      op: 'add' as const,
    }));
    await upsertRejects(context, 'run-1', provider);
    expected.push(...provider.map(({ email, segmentId, code, reason }) => ({ email, segmentId, code, reason })));

    const seen: RejectRow[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await getRejectsPage(context, 'run-1', 3, token);
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items);
      token = page.continuationToken;
      pages++;
    } while (token && pages < 20);
    expect(seen).toEqual(expected);
  });

  it('refuses a continuation token it did not give out', async () => {
    const context = await createTestContext();
    await expect(getRejectsPage(context, 'run-1', 3, 'not-a-token')).rejects.toMatchObject({ status: 400 });
  });
});
