import { beforeEach, describe, expect, it } from 'vitest';
import { runsList } from '../../../functions/runs-list';
import { runsRejects } from '../../../functions/runs-rejects';
import { CONTINUATION_KEY_SECRET } from '../../../src/api/continuation';
import type { Export } from '../../../src/domain/export';
import { createExportRow } from '../../../src/exports/repository';
import { createRun } from '../../../src/pipeline/run-state';
import { PlannerRejects } from '../../../src/pipeline/store/rejects';
import { createTestContext, type TestContext } from '../../support/context';
import { ADMIN, invokeHttp } from '../../support/http';

let context: TestContext;
const NOW = '2026-01-01T00:00:00.000Z';
const exp: Export = {
  id: 'exp-tokens',
  name: 'Tokens',
  connectionId: 'gone',
  segmentIds: ['s'],
  mapping: { email: 'email' },
  options: {},
  createdAt: NOW,
  createdBy: 'oid-ada',
  updatedAt: NOW,
  updatedBy: 'oid-ada',
};

async function seedRun(runId: string, rejects: number): Promise<void> {
  await createRun(context, exp, runId, 'skipped', { trigger: 'on-demand', mode: 'full', dryRun: false, requestedBy: 'oid-ada', provider: 'brevo', reason: 'seeded' });
  const planner = new PlannerRejects(context, runId);
  for (let i = 0; i < rejects; i++) await planner.add(0, { email: `bad-${i}`, segmentId: 's', code: 'invalid_email', reason: 'not an email' });
  await planner.close();
}

const rejectsPage = (runId: string, continuationToken?: string) =>
  invokeHttp(runsRejects, { params: { runId }, query: continuationToken === undefined ? {} : { continuationToken }, principal: ADMIN });
const runsPage = (continuationToken?: string) =>
  invokeHttp(runsList, { params: { exportId: exp.id }, query: continuationToken === undefined ? {} : { continuationToken }, principal: ADMIN });
const oldStyle = (cursor: unknown) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

beforeEach(async () => {
  context = await createTestContext();
  await createExportRow(context, exp);
});

function expectForged(response: { status: number; body: unknown }): void {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.body).toMatchObject({ error: { code: 'validation_failed', details: [{ path: 'continuationToken' }] } });
}

describe('finding 7: continuation tokens are opaque and authenticated', () => {
  it('pages through every reject with the tokens it gives out, and answers 400 to forged, altered and borrowed ones', async () => {
    await seedRun('run-a', 620);
    await seedRun('run-b', 1);
    const first = await rejectsPage('run-a');
    const token = (first.body as { continuationToken: string }).continuationToken;
    expect(token).toMatch(/^c1\./);
    const second = await rejectsPage('run-a', token);
    expect(second.status).toBe(200);
    const seen = [...(first.body as { items: { email: string }[] }).items, ...(second.body as { items: { email: string }[] }).items];
    expect(seen.map((item) => item.email)).toEqual(Array.from({ length: 620 }, (_, i) => `bad-${i}`));

    const [version, payload, mac] = token.split('.') as [string, string, string];
    const forged = [
      'forged',
      oldStyle({ table: 'garbage-table-token' }),
      oldStyle({ blob: 0, offset: 3 }),
      oldStyle({ blob: 0, offset: 1_000_000_000 }),
      `${version}.${oldStyle({ s: 'rejects', id: 'run-a', c: oldStyle({ blob: 0, offset: 3 }) })}.${mac}`,
      `${version}.${payload}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`,
      `${version}.${payload}`,
    ];
    for (const candidate of forged) expectForged(await rejectsPage('run-a', candidate));
    // A token of one run's listing does not open another's.
    expectForged(await rejectsPage('run-b', token));
  });

  it('pages through the runs of an export, and refuses garbage table tokens and a rejects token there', async () => {
    const runIds = Array.from({ length: 53 }, (_, i) => `run-${String(i).padStart(3, '0')}`);
    for (const runId of runIds) {
      await createRun(context, exp, runId, 'skipped', { trigger: 'on-demand', mode: 'full', dryRun: false, requestedBy: 'oid-ada', provider: 'brevo', reason: 'seeded' });
    }
    const first = await runsPage();
    const token = (first.body as { continuationToken: string }).continuationToken;
    const second = await runsPage(token);
    expect(second.status).toBe(200);
    expect((first.body as { items: unknown[] }).items.length + (second.body as { items: unknown[] }).items.length).toBe(53);

    for (const candidate of ['abc', oldStyle({ nextPartitionKey: 'x', nextRowKey: '%%' }), token.replace(/\.[^.]*$/, '.x')]) expectForged(await runsPage(candidate));
    await seedRun('run-r', 501);
    const rejectsToken = ((await rejectsPage('run-r')).body as { continuationToken: string }).continuationToken;
    expectForged(await runsPage(rejectsToken));
  });

  it('keeps its key in the secret store, created on first use', async () => {
    expect(await context.secrets.getSecret(CONTINUATION_KEY_SECRET)).toBeUndefined();
    await seedRun('run-k', 501);
    await rejectsPage('run-k');
    expect(await context.secrets.getSecret(CONTINUATION_KEY_SECRET)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
