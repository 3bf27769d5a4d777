import { beforeEach, describe, expect, it } from 'vitest';
import { getRejectsPage, PlannerRejects, scrubRejects, upsertRejects } from '../../../src/pipeline/store/rejects';
import { createTestContext, type TestContext } from '../../support/context';

// An erasure takes the person out of every stored reject: the provider's rows and the lines of the
// planner's blobs, in every run; everyone else's rejects stay as they were.
let context: TestContext;
beforeEach(async () => {
  context = await createTestContext();
});

async function seed(runId: string): Promise<void> {
  const planner = new PlannerRejects(context, runId);
  await planner.add(0, { email: 'gone@example.com', segmentId: 's', code: 'duplicate', reason: 'a second record with this email' });
  await planner.add(0, { email: 'not-an-email', segmentId: 's', code: 'invalid_email', reason: 'not an email' });
  await planner.add(1, { email: 'stays@example.com', segmentId: 't', code: 'duplicate', reason: 'a second record with this email' });
  await planner.close();
  await upsertRejects(context, runId, [
    { rowKey: 'c0000001-000000', email: 'gone@example.com', segmentId: 's', code: 'provider_rejected', reason: 'refused', target: 'iterable-s', op: 'add' },
    { rowKey: 'c0000001-000001', email: 'stays@example.com', segmentId: 's', code: 'phone_dropped', reason: 'no phone', target: 'iterable-s', op: 'add' },
  ]);
}

const emailsOf = async (runId: string) => (await getRejectsPage(context, runId, 100, undefined)).items.map((row) => row.email).sort();

describe('scrubRejects', () => {
  it('removes the person from the provider rows and the planner blobs of every run, and nothing else', async () => {
    await seed('run-a');
    await seed('run-b');
    const before = await emailsOf('run-a');
    expect(before).toEqual(['gone@example.com', 'gone@example.com', 'not-an-email', 'stays@example.com', 'stays@example.com']);

    expect(await scrubRejects(context, 'gone@example.com')).toBe(4);
    for (const runId of ['run-a', 'run-b']) expect(await emailsOf(runId)).toEqual(['not-an-email', 'stays@example.com', 'stays@example.com']);
    // Again: nothing left to take.
    expect(await scrubRejects(context, 'gone@example.com')).toBe(0);
  });
});
