import { describe, expect, it } from 'vitest';
import { webhookBrevo } from '../../../functions/webhook-brevo';
import type { ChunkDoc } from '../../../src/domain/run';
import type { Export } from '../../../src/domain/export';
import { addPlannedChunks, cancelRun, confirmChunk, createRun, saveChunkProgress } from '../../../src/pipeline/run-state';
import { getChunkDoc } from '../../../src/pipeline/store/runs-table';
import { newWebhookToken, notifyUrlFor, WEBHOOK_PARTITION } from '../../../src/pipeline/webhooks';
import { createTestContext, type TestContext } from '../../support/context';
import { invokeHttp } from '../../support/http';

const NOW = '2026-01-01T00:00:00.000Z';
const exp: Export = {
  id: 'exp-brevo',
  name: 'Brevo',
  connectionId: 'c',
  segmentIds: ['s'],
  mapping: { email: 'email' },
  options: { listId: 7 },
  createdAt: NOW,
  createdBy: 'oid-ada',
  updatedAt: NOW,
  updatedBy: 'oid-ada',
};

let clock = Date.parse('2026-03-01T00:00:00Z');

async function setup(chunks = 1): Promise<{ context: TestContext; runId: string; docs: ChunkDoc[] }> {
  const context = await createTestContext({ env: { PUBLIC_BASE_URL: 'https://app.example.test' }, now: () => new Date(clock) });
  const runId = `run-${Math.random().toString(36).slice(2)}`;
  await createRun(context, exp, runId, 'queued', { trigger: 'on-demand', mode: 'full', dryRun: false, requestedBy: 'oid-ada', provider: 'brevo' });
  const docs: ChunkDoc[] = Array.from({ length: chunks }, (_, chunk) => ({
    chunk,
    targetKey: 'brevo:7',
    kind: 'upsert',
    records: 1,
    status: 'pending',
    steps: 0,
    rejected: 0,
    payloadInline: '[]',
    webhookToken: newWebhookToken(),
  }));
  await addPlannedChunks(context, runId, docs);
  return { context, runId, docs };
}

/** The chunk's import was posted and Brevo answered process `processId`: the state the sender saves. */
async function awaitImport(context: TestContext, runId: string, chunk: ChunkDoc, processId: number): Promise<void> {
  expect(await notifyUrlFor(context, runId, chunk, undefined)).toBe(`https://app.example.test/api/webhooks/brevo/${chunk.webhookToken}`);
  const saved = await getChunkDoc(context, runId, chunk.chunk);
  expect(await saveChunkProgress(context, runId, saved!, { state: JSON.stringify({ phase: 'status', processId, notify: true, polls: 0, failures: 0 }) })).toBeDefined();
}

const call = (token: string) => invokeHttp(webhookBrevo, { method: 'POST', params: { token }, path: `webhooks/brevo/${token}` });

async function wakeMessages(context: TestContext): Promise<number> {
  const peeked = await context.storage.queue(context.storage.names.queues.chunksBrevo).peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.length;
}

async function tokenRow(context: TestContext, token: string): Promise<unknown> {
  return await context.storage
    .table(context.storage.names.tables.webhooks)
    .getEntity(WEBHOOK_PARTITION, token)
    .catch(() => undefined);
}

describe('finding 4: Brevo webhook tokens are bound, single-use per import, deleted and expiring', () => {
  it('wakes the chunk once per import: a replay while the chunk waits enqueues nothing', async () => {
    const { context, runId, docs } = await setup();
    const token = docs[0]!.webhookToken!;
    await awaitImport(context, runId, docs[0]!, 78);

    expect((await call(token)).status).toBe(204);
    for (let i = 0; i < 5; i++) expect((await call(token)).status).toBe(204);

    expect(await wakeMessages(context)).toBe(1);
  });

  it('wakes the chunk once when Brevo called before the import was bound, and again for the next import of the chunk', async () => {
    const { context, runId, docs } = await setup();
    const token = docs[0]!.webhookToken!;
    await notifyUrlFor(context, runId, docs[0]!, undefined);
    for (let i = 0; i < 3; i++) expect((await call(token)).status).toBe(204);
    expect(await wakeMessages(context)).toBe(0);

    const posted = await getChunkDoc(context, runId, 0);
    await saveChunkProgress(context, runId, posted!, { state: JSON.stringify({ phase: 'status', processId: 78, notify: true, polls: 0, failures: 0 }) });
    expect(await wakeMessages(context)).toBe(1);
    await call(token);
    expect(await wakeMessages(context)).toBe(1);
    // Brevo ended import 78 `failed`: the chunk posts it again and waits for process 79.
    const saved = await getChunkDoc(context, runId, 0);
    await saveChunkProgress(context, runId, saved!, { state: JSON.stringify({ phase: 'import', failures: 1 }) });
    await awaitImport(context, runId, docs[0]!, 79);
    await call(token);
    await call(token);
    expect(await wakeMessages(context)).toBe(2);
  });

  it('deletes the token when the chunk stops waiting for the import, when it is confirmed, and when the run ends', async () => {
    const { context, runId, docs } = await setup(3);
    for (const [i, doc] of docs.entries()) await awaitImport(context, runId, doc, 100 + i);

    const first = await getChunkDoc(context, runId, 0);
    await saveChunkProgress(context, runId, first!, { state: JSON.stringify({ phase: 'invalid-emails', processId: 100, url: 'https://files.brevo.com/r.csv' }) });
    expect(await tokenRow(context, docs[0]!.webhookToken!)).toBeUndefined();
    expect((await call(docs[0]!.webhookToken!)).status).toBe(404);

    await confirmChunk(context, runId, 1, { records: 1, rejected: 0 });
    expect(await tokenRow(context, docs[1]!.webhookToken!)).toBeUndefined();

    expect(await tokenRow(context, docs[2]!.webhookToken!)).toBeDefined();
    await cancelRun(context, runId, 'ada@example.com');
    expect(await tokenRow(context, docs[2]!.webhookToken!)).toBeUndefined();
    expect((await call(docs[2]!.webhookToken!)).status).toBe(404);
    expect(await wakeMessages(context)).toBe(0);
  });

  it('expires a token 24 hours after its import was posted', async () => {
    const { context, runId, docs } = await setup();
    const token = docs[0]!.webhookToken!;
    await awaitImport(context, runId, docs[0]!, 78);
    clock += 24 * 3_600_000 + 1;
    expect((await call(token)).status).toBe(404);
    expect(await tokenRow(context, token)).toBeUndefined();
    expect(await wakeMessages(context)).toBe(0);
  });
});
