import { getAppContext } from '../src/app/context';
import { recordChunkQueueAge, withSpan } from '../src/app/telemetry';
import { defineQueue, type QueueDefinition } from '../src/app/definitions';
import { PROVIDER_NAMES, type ProviderName } from '../src/domain/provider';
import { chunkMessageSchema } from '../src/domain/run';
import { chunkPoisoned } from '../src/pipeline/poison';
import { TRIGGER_QUEUES } from '../src/pipeline/queues';
import { sendChunk, type SendChunkOptions } from '../src/pipeline/send/sender';
import { parseMessage } from '../src/storage/queue-messages';
import { app } from './app';

// One sender per provider (`send-iterable`, ...) on the provider's chunk queue, and one handler of
// its poison queue (`send-iterable-poison`, ...). Fault tests build a sender with `SendChunkOptions`.
export function sendFunction(provider: ProviderName, options: SendChunkOptions = {}): QueueDefinition {
  const queueName = TRIGGER_QUEUES.chunks(provider);
  return defineQueue(`send-${provider}`, { queueName }, async (message, invocation) => {
    const chunk = parseMessage(chunkMessageSchema, message, queueName);
    recordChunkQueueAge(invocation.triggerMetadata?.insertionTime, new Date(), { runId: chunk.runId, provider });
    await withSpan('chunk.send', { runId: chunk.runId, provider }, () => sendChunk(getAppContext(), chunk, options));
  });
}

export function sendPoisonFunction(provider: ProviderName): QueueDefinition {
  const queueName = TRIGGER_QUEUES.chunksPoison(provider);
  return defineQueue(`send-${provider}-poison`, { queueName }, async (message) => {
    await chunkPoisoned(getAppContext(), parseMessage(chunkMessageSchema, message, queueName));
  });
}

export const sendFunctions = PROVIDER_NAMES.map((provider) => sendFunction(provider));
export const sendPoisonFunctions = PROVIDER_NAMES.map((provider) => sendPoisonFunction(provider));

for (const definition of [...sendFunctions, ...sendPoisonFunctions]) app.storageQueue(definition.name, definition.options);
