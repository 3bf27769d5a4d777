// The pipeline's queues: the one place that names them. A run's plan message goes to the plan
// queue; each chunk message to its provider's chunk queue (so that one provider's throttling never
// holds up another's); a chunk that must wait goes back with a visibility delay. The function
// definitions take their trigger queue names from here too.
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import type { ChunkMessage, PlanMessage } from '../domain/run';
import type { NotificationMessage } from '../domain/notification';
import type { ErasureMessage } from '../domain/privacy';
import type { SourceScanMessage } from '../domain/source';
import type { ProviderName } from '../domain/provider';
import { sendMessage, type SendMessageOptions } from '../storage/queue-messages';
import { poisonQueueName, QUEUE_NAMES, type QueueKey } from '../storage/names';

const CHUNK_QUEUE_KEYS: Record<ProviderName, QueueKey> = {
  iterable: 'chunksIterable',
  brevo: 'chunksBrevo',
  omnisend: 'chunksOmnisend',
};

/** Queue names as a function definition's trigger names them (the host resolves the namespace). */
export const TRIGGER_QUEUES = {
  plan: QUEUE_NAMES.plan,
  planPoison: poisonQueueName(QUEUE_NAMES.plan),
  chunks: (provider: ProviderName): string => QUEUE_NAMES[CHUNK_QUEUE_KEYS[provider]],
  chunksPoison: (provider: ProviderName): string => poisonQueueName(QUEUE_NAMES[CHUNK_QUEUE_KEYS[provider]]),
  notifications: QUEUE_NAMES.notifications,
  erasures: QUEUE_NAMES.erasures,
  /** Segment sources: Event Grid BlobCreated events, and the app's own scan requests. */
  sourceEvents: QUEUE_NAMES.sourceEvents,
  sourceEventsPoison: poisonQueueName(QUEUE_NAMES.sourceEvents),
} as const;

/** How many chunk messages are sent at once. */
const PARALLEL_SENDS = 16;

export async function enqueuePlan(context: AppContext, message: PlanMessage, options: SendMessageOptions = {}): Promise<void> {
  await sendMessage(context.storage.queue(context.storage.names.queues.plan), message, options);
}

/** One message per chunk of a run, on the provider's queue. */
export async function enqueueChunks(
  context: AppContext,
  provider: ProviderName,
  runId: string,
  chunks: readonly number[],
  options: OperationOptions = {},
): Promise<void> {
  const queue = context.storage.queue(context.storage.names.queues[CHUNK_QUEUE_KEYS[provider]]);
  for (let start = 0; start < chunks.length; start += PARALLEL_SENDS) {
    await Promise.all(chunks.slice(start, start + PARALLEL_SENDS).map((chunk) => sendMessage(queue, { runId, chunk }, options)));
  }
}

/** Puts a chunk back on its queue, visible again after `delayInMs` (rounded up to whole seconds). */
export async function requeueChunk(
  context: AppContext,
  provider: ProviderName,
  message: ChunkMessage,
  delayInMs: number,
  options: OperationOptions = {},
): Promise<void> {
  const queue = context.storage.queue(context.storage.names.queues[CHUNK_QUEUE_KEYS[provider]]);
  const visibilityDelayInSeconds = Math.ceil(delayInMs / 1000);
  await sendMessage(queue, { runId: message.runId, chunk: message.chunk }, { abortSignal: options.abortSignal, visibilityDelayInSeconds });
}

/** A run notification to deliver, visible after `delayInMs` (a retry's backoff). */
export async function enqueueNotification(context: AppContext, message: NotificationMessage, delayInMs = 0): Promise<void> {
  await sendMessage(context.storage.queue(context.storage.names.queues.notifications), message, { visibilityDelayInSeconds: Math.ceil(delayInMs / 1000) });
}

/** An erasure's next step, visible after `delayInMs` (waiting for a run, or for the provider). */
export async function enqueueErasure(context: AppContext, message: ErasureMessage, delayInMs = 0): Promise<void> {
  await sendMessage(context.storage.queue(context.storage.names.queues.erasures), message, { visibilityDelayInSeconds: Math.ceil(delayInMs / 1000) });
}

/** Asks for a scan of one source (the scan endpoint, the rescan timer, a recheck of an incomplete export). */
export async function enqueueSourceScan(context: AppContext, message: SourceScanMessage, options: SendMessageOptions = {}): Promise<void> {
  await sendMessage(context.storage.queue(context.storage.names.queues.sourceEvents), message, options);
}
