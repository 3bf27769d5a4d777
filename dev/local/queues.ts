import { InvocationContext } from '@azure/functions';
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueDefinition } from '../../src/app/definitions';
import type { Logger } from '../../src/log';
import { poisonQueueName } from '../../src/storage/names';
import type { HostSettings } from './host-json';
import type { Runner } from './timers';

export interface QueueRunnerOptions {
  definitions: readonly QueueDefinition[];
  /** The queue client for a queue name (already resolved to the storage namespace). */
  queueClient: (queueName: string) => QueueClient;
  resolveQueueName: (definitionQueueName: string) => string;
  settings: HostSettings['queues'];
  functionTimeoutInMs: number;
  log: Logger;
}

const MIN_POLLING_INTERVAL_IN_MS = 100;

/**
 * Polls queue definitions with the Functions host's semantics: batches of `batchSize`, a new
 * batch when in-flight work drops to `newBatchThreshold`, `dequeueCount` in the trigger metadata,
 * a failed message visible again after `visibilityTimeout`, moved to `<queue>-poison` after
 * `maxDequeueCount` attempts, deleted on success.
 */
export function startQueuePollers(options: QueueRunnerOptions): Runner {
  const abort = new AbortController();
  // Every poller waits on this one signal, each with at most one listener at a time (the receive
  // or the sleep in flight) plus the storage client's own while it retries: not a leak.
  setMaxListeners(Math.max(10, options.definitions.length * 2), abort.signal);
  const loops = options.definitions.map((definition) => pollQueue(definition, options, abort.signal));
  return {
    async stop() {
      abort.abort();
      await Promise.allSettled(loops);
    },
  };
}

async function pollQueue(definition: QueueDefinition, options: QueueRunnerOptions, signal: AbortSignal): Promise<void> {
  const queueName = options.resolveQueueName(definition.options.queueName);
  const queue = options.queueClient(queueName);
  const poison = options.queueClient(poisonQueueName(queueName));
  const { settings } = options;
  const inFlight = new Set<Promise<void>>();
  let idleDelay = MIN_POLLING_INTERVAL_IN_MS;
  await queue.createIfNotExists();

  while (!signal.aborted) {
    if (inFlight.size > settings.newBatchThreshold) {
      await Promise.race(inFlight);
      continue;
    }
    let messages: DequeuedMessageItem[];
    try {
      const response = await queue.receiveMessages({
        numberOfMessages: settings.batchSize,
        visibilityTimeout: Math.ceil(options.functionTimeoutInMs / 1000),
        abortSignal: signal,
      });
      messages = response.receivedMessageItems;
    } catch (error) {
      if (signal.aborted) break;
      options.log.warn('queue poll failed', { queue: queueName, error: error instanceof Error ? error : String(error) });
      messages = [];
    }
    if (messages.length === 0) {
      await sleep(idleDelay, undefined, { signal }).catch(() => undefined);
      idleDelay = Math.min(idleDelay * 2, Math.max(settings.maxPollingIntervalInMs, MIN_POLLING_INTERVAL_IN_MS));
      continue;
    }
    idleDelay = MIN_POLLING_INTERVAL_IN_MS;
    for (const message of messages) {
      const work = processMessage(definition, message, queue, poison, options).finally(() => inFlight.delete(work));
      inFlight.add(work);
    }
  }
  await Promise.allSettled([...inFlight]);
}

async function processMessage(
  definition: QueueDefinition,
  message: DequeuedMessageItem,
  queue: QueueClient,
  poison: QueueClient,
  options: QueueRunnerOptions,
): Promise<void> {
  const { settings, log } = options;
  if (message.dequeueCount > settings.maxDequeueCount) {
    await moveToPoison(message, queue, poison);
    return;
  }
  const context = new InvocationContext({
    invocationId: randomUUID(),
    functionName: definition.name,
    triggerMetadata: {
      id: message.messageId,
      queueTrigger: message.messageText,
      dequeueCount: message.dequeueCount,
      insertionTime: message.insertedOn.toISOString(),
      expirationTime: message.expiresOn.toISOString(),
      nextVisibleTime: message.nextVisibleOn.toISOString(),
      popReceipt: message.popReceipt,
    },
  });
  try {
    const payload = decodePayload(message.messageText, settings.messageEncoding);
    await definition.options.handler(payload, context);
  } catch (error) {
    log.warn('queue function failed', {
      function: definition.name,
      messageId: message.messageId,
      dequeueCount: message.dequeueCount,
      error: error instanceof Error ? error : String(error),
    });
    if (message.dequeueCount >= settings.maxDequeueCount) {
      await moveToPoison(message, queue, poison);
    } else {
      await queue
        .updateMessage(message.messageId, message.popReceipt, undefined, Math.ceil(settings.visibilityTimeoutInMs / 1000))
        .catch((updateError: unknown) =>
          log.warn('could not release a failed message', { messageId: message.messageId, error: String(updateError) }),
        );
    }
    return;
  }
  await queue.deleteMessage(message.messageId, message.popReceipt).catch((error: unknown) =>
    // The message was processed; if its receipt expired it will be redelivered and the handler is idempotent.
    log.warn('could not delete a processed message', { messageId: message.messageId, error: String(error) }),
  );
}

async function moveToPoison(message: DequeuedMessageItem, queue: QueueClient, poison: QueueClient): Promise<void> {
  await poison.createIfNotExists();
  await poison.sendMessage(message.messageText, { messageTimeToLive: -1 });
  await queue.deleteMessage(message.messageId, message.popReceipt);
}

/** What the Node.js worker hands a queue function: the decoded text, parsed when it is JSON. */
export function decodePayload(messageText: string, encoding: 'base64' | 'none'): unknown {
  let text = messageText;
  if (encoding === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(messageText)) throw new Error('The message is not valid base64 (host.json messageEncoding is base64)');
    text = Buffer.from(messageText, 'base64').toString('utf8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
