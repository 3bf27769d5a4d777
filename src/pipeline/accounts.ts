import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import { getConnectionForUse, type ConnectionForUse } from '../connections/service';
import type { Connection } from '../domain/connection';
import type { ChunkDoc } from '../domain/run';
import { createProviderAdapter, createRateGovernor, type GovernorAccount, type RateGovernor } from '../providers';
import type { ProviderAdapter, ProviderName } from '../providers/types';

/**
 * How the export pipeline reaches a provider: the adapter for a connection (the pipeline does
 * its own retrying, through the governor, so the client does not retry behind its back), the one
 * rate governor of this process (its state is shared through Table storage), and the Brevo
 * webhook that wakes a chunk up when its import has ended.
 */
export function adapterFor(context: AppContext, { providerSettings }: ConnectionForUse): ProviderAdapter {
  return createProviderAdapter({
    ...providerSettings,
    storage: context.storage,
    http: { ...providerSettings.http, retry: { maxRetries: 0 } },
    timing: { ...providerSettings.timing, ...context.tuning.providerTiming },
    log: context.log,
  });
}

/**
 * The connection and its key for the senders, kept for a few seconds: every chunk of a run needs
 * them, and a rotated key or changed limit is seen within `CONNECTION_CACHE_IN_MS`.
 */
export const CONNECTION_CACHE_IN_MS = 10_000;
const connectionCaches = new WeakMap<AppContext, Map<string, { value: Promise<ConnectionForUse>; expiresAt: number }>>();

export function connectionForUse(context: AppContext, connectionId: string, abortSignal?: AbortSignal): Promise<ConnectionForUse> {
  let cache = connectionCaches.get(context);
  if (!cache) {
    cache = new Map();
    connectionCaches.set(context, cache);
  }
  const now = Date.now();
  const cached = cache.get(connectionId);
  if (cached && cached.expiresAt > now) return cached.value;
  const value = getConnectionForUse(context, connectionId, { abortSignal });
  const entry = { value, expiresAt: now + CONNECTION_CACHE_IN_MS };
  cache.set(connectionId, entry);
  value.catch(() => {
    if (cache.get(connectionId) === entry) cache.delete(connectionId);
  });
  return value;
}

const governors = new WeakMap<AppContext, RateGovernor>();
export const GOVERNOR_SAFETY_MARGIN_IN_MS = 8;

export function governorFor(context: AppContext): RateGovernor {
  let governor = governors.get(context);
  if (!governor) {
    governor = createRateGovernor({
      table: context.storage.table(context.storage.names.tables.governor),
      rateScale: context.tuning.rateScale,
      // The senders send right after the grant (the body is the only work in between) and the
      // governor adds the event loop's recent lag on top, so a small fixed margin suffices.
      safetyMarginMs: GOVERNOR_SAFETY_MARGIN_IN_MS,
      log: context.log,
    });
    governors.set(context, governor);
  }
  return governor;
}

/** A connection's share of the governor, with its own limits where it has them. */
export function governorAccount(connection: Connection): GovernorAccount {
  return { connectionId: connection.id, provider: connection.provider, rateLimits: connection.options.rateLimits };
}

export function chunkQueueName(context: AppContext, provider: ProviderName): string {
  const { queues } = context.storage.names;
  return { iterable: queues.chunksIterable, brevo: queues.chunksBrevo, omnisend: queues.chunksOmnisend }[provider];
}

/** An unguessable token for one Brevo import's webhook. */
export function newWebhookToken(): string {
  return randomBytes(24).toString('base64url');
}

export const WEBHOOK_PARTITION = 'brevo';
const webhookRowSchema = z.object({ runId: z.string(), chunk: z.number().int() });

function webhooksTable(context: AppContext) {
  return context.storage.table(context.storage.names.tables.webhooks);
}

/** Where Brevo should call when this chunk's import ends (only with `PUBLIC_BASE_URL`). */
export async function notifyUrlFor(context: AppContext, runId: string, chunk: ChunkDoc): Promise<string | undefined> {
  const base = context.config.publicBaseUrl;
  if (!base || !chunk.webhookToken || chunk.kind !== 'upsert') return undefined;
  await webhooksTable(context).upsertEntity({ partitionKey: WEBHOOK_PARTITION, rowKey: chunk.webhookToken, runId, chunk: chunk.chunk }, 'Replace');
  return `${base}/api/webhooks/brevo/${chunk.webhookToken}`;
}

/** The chunk a webhook token wakes up, or undefined for an unknown token. */
export async function chunkForWebhook(context: AppContext, token: string): Promise<{ runId: string; chunk: number } | undefined> {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(token)) return undefined;
  try {
    return webhookRowSchema.parse(await webhooksTable(context).getEntity(WEBHOOK_PARTITION, token));
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}
