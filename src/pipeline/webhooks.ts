// Brevo's import webhooks: each upsert chunk gets an unguessable token; Brevo calls
// `/api/webhooks/brevo/{token}` when the import ends, and the call only wakes the chunk, which then
// reads the import's status itself (the webhook's body is undocumented and not trusted).
//
// The URL sits in request telemetry and Brevo's own logs, so a token is worth little to whoever
// replays it: it is bound to one chunk and the Brevo process of its current import, wakes that
// chunk once per import (a replay while the chunk waits enqueues nothing, so it cannot spend the
// account's 100/hour status budget), is deleted when the chunk stops waiting for the import or the
// run ends (run-state calls in here), and expires after 24 hours in any case.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import { isTerminal, type ChunkDoc } from '../domain/run';
import { brevoImportStage } from '../providers/brevo/adapter';
import type { DeliveryState } from '../providers/types';
import { deleteEntity, isNotFound, replaceEntityIfUnchanged } from '../storage/tables';
import { requeueChunk } from './queues';
import { getRunDoc, listChunkDocs } from './store/runs-table';

export const WEBHOOK_PARTITION = 'brevo';
export const WEBHOOK_TOKEN_TTL_IN_MS = 24 * 3_600_000;
const webhookRowSchema = z.object({
  etag: z.string(),
  runId: z.string(),
  chunk: z.number().int(),
  expiresAt: z.iso.datetime(),
  /** The Brevo process of the chunk's current import, once Brevo accepted it. */
  processId: z.number().int().optional(),
  /** The process whose end already woke the chunk. */
  wokenFor: z.number().int().optional(),
  /** Brevo called before the import was bound (a fast import): the binding wakes the chunk. */
  calledEarly: z.boolean().optional(),
});
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** An unguessable token for one Brevo chunk's import webhooks. */
export function newWebhookToken(): string {
  return randomBytes(24).toString('base64url');
}

function webhooksTable(context: AppContext) {
  return context.storage.table(context.storage.names.tables.webhooks);
}

/**
 * Where Brevo should call when the import this step posts ends (only with `PUBLIC_BASE_URL`, and
 * only before an import: other steps send no `notifyUrl`). Each import starts a fresh binding.
 */
export async function notifyUrlFor(context: AppContext, runId: string, chunk: ChunkDoc, state: DeliveryState | undefined): Promise<string | undefined> {
  const base = context.config.publicBaseUrl;
  if (!base || !chunk.webhookToken || chunk.kind !== 'upsert' || brevoImportStage(state).stage !== 'import') return undefined;
  const expiresAt = new Date(context.now().getTime() + WEBHOOK_TOKEN_TTL_IN_MS).toISOString();
  await webhooksTable(context).upsertEntity({ partitionKey: WEBHOOK_PARTITION, rowKey: chunk.webhookToken, runId, chunk: chunk.chunk, expiresAt }, 'Replace');
  return `${base}/api/webhooks/brevo/${chunk.webhookToken}`;
}

/**
 * Follows a chunk's saved progress (run-state calls this): a chunk that now waits for import
 * `processId` binds its token to that process; one past the import no longer needs its token.
 */
export async function syncWebhookToken(context: AppContext, chunk: ChunkDoc): Promise<void> {
  if (!chunk.webhookToken) return;
  const stage = brevoImportStage(chunk.state === undefined ? undefined : (JSON.parse(chunk.state) as DeliveryState));
  if (stage.stage === 'after') return await deleteWebhookToken(context, chunk.webhookToken);
  if (stage.stage !== 'awaiting') return;
  const row = await readRow(context, chunk.webhookToken);
  if (!row || row.processId === stage.processId) return;
  const early = row.calledEarly === true;
  const bound = { partitionKey: WEBHOOK_PARTITION, rowKey: chunk.webhookToken, processId: stage.processId, ...(early ? { wokenFor: stage.processId } : {}) };
  // Under the ETag: a call that comes in meanwhile sees the binding, or makes this write retry next time.
  if ((await replaceEntityIfUnchanged(webhooksTable(context), bound, row.etag, { mode: 'Merge' })) === undefined) return;
  if (early) await requeueChunk(context, 'brevo', { runId: row.runId, chunk: row.chunk }, 0);
}

async function readRow(context: AppContext, token: string): Promise<z.infer<typeof webhookRowSchema> | undefined> {
  try {
    return webhookRowSchema.parse(await webhooksTable(context).getEntity(WEBHOOK_PARTITION, token));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function deleteWebhookToken(context: AppContext, token: string): Promise<void> {
  await deleteEntity(webhooksTable(context), WEBHOOK_PARTITION, token);
}

/** Deletes the tokens of every chunk of a run that ended (only Brevo runs with webhooks have any). */
export async function deleteRunWebhookTokens(context: AppContext, runId: string): Promise<void> {
  for await (const chunk of listChunkDocs(context, runId)) if (chunk.webhookToken) await deleteWebhookToken(context, chunk.webhookToken);
}

/**
 * Wakes the chunk of a webhook token, at most once per import; false for a token that is unknown,
 * expired, or whose run has ended. A replay is known (true) but enqueues nothing; a call before the
 * import was bound is remembered, and the binding wakes the chunk instead.
 */
export async function wakeChunkForWebhook(context: AppContext, token: string): Promise<boolean> {
  if (!TOKEN_PATTERN.test(token)) return false;
  const table = webhooksTable(context);
  const row = await readRow(context, token);
  if (!row) return false;
  if (Date.parse(row.expiresAt) <= context.now().getTime()) {
    await deleteWebhookToken(context, token);
    return false;
  }
  if (row.processId === undefined) {
    await replaceEntityIfUnchanged(table, { partitionKey: WEBHOOK_PARTITION, rowKey: token, calledEarly: true }, row.etag, { mode: 'Merge' });
    return true;
  }
  if (row.wokenFor === row.processId) return true;
  const claimed = await replaceEntityIfUnchanged(table, { partitionKey: WEBHOOK_PARTITION, rowKey: token, wokenFor: row.processId }, row.etag, { mode: 'Merge' });
  if (claimed === undefined) return true;
  const run = await getRunDoc(context, row.runId);
  if (!run || isTerminal(run.value.status)) {
    await deleteWebhookToken(context, token);
    return false;
  }
  await requeueChunk(context, run.value.provider, { runId: row.runId, chunk: row.chunk }, 0);
  return true;
}
