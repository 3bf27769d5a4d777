// Brevo's import webhooks: each import of a chunk gets an unguessable token; Brevo calls
// `/api/webhooks/brevo/{token}` when the import ends, and the call only wakes the chunk, which then
// reads the import's status itself (the webhook's body is undocumented and not trusted).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import type { ChunkDoc } from '../domain/run';
import { getEntity } from '../storage/tables';
import { requeueChunk } from './queues';
import { getRunDoc } from './store/runs-table';

export const WEBHOOK_PARTITION = 'brevo';
const webhookRowSchema = z.object({ runId: z.string(), chunk: z.number().int() });
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/** An unguessable token for one Brevo import's webhook. */
export function newWebhookToken(): string {
  return randomBytes(24).toString('base64url');
}

function webhooksTable(context: AppContext) {
  return context.storage.table(context.storage.names.tables.webhooks);
}

/** Where Brevo should call when this chunk's import ends (only with `PUBLIC_BASE_URL`). */
export async function notifyUrlFor(context: AppContext, runId: string, chunk: ChunkDoc, options: OperationOptions = {}): Promise<string | undefined> {
  const base = context.config.publicBaseUrl;
  if (!base || !chunk.webhookToken || chunk.kind !== 'upsert') return undefined;
  const entity = { partitionKey: WEBHOOK_PARTITION, rowKey: chunk.webhookToken, runId, chunk: chunk.chunk };
  await webhooksTable(context).upsertEntity(entity, 'Replace', { abortSignal: options.abortSignal });
  return `${base}/api/webhooks/brevo/${chunk.webhookToken}`;
}

/** The chunk a webhook token wakes up, or undefined for an unknown token. */
export async function getWebhookChunk(context: AppContext, token: string, options: OperationOptions = {}): Promise<{ runId: string; chunk: number } | undefined> {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  return await getEntity(webhooksTable(context), WEBHOOK_PARTITION, token, webhookRowSchema, options);
}

/** Wakes the chunk of a webhook token; false for an unknown token. */
export async function wakeChunkForWebhook(context: AppContext, token: string, options: OperationOptions = {}): Promise<boolean> {
  const target = await getWebhookChunk(context, token, options);
  if (!target) return false;
  const run = await getRunDoc(context, target.runId, options);
  if (run) await requeueChunk(context, run.value.provider, target, 0, options);
  return true;
}
