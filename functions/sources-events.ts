import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { TRIGGER_QUEUES } from '../src/pipeline/queues';
import { handleSourceMessage, sourceMessagePoisoned } from '../src/pipeline/sources';
import { app } from './app';

// The source-events queue: Event Grid BlobCreated events of the source accounts (a storage-queue
// subscription), and the app's own scan requests; and the handler of its poison queue.
export const sourcesEvents = defineQueue('sources-events', { queueName: TRIGGER_QUEUES.sourceEvents }, async (message) => {
  await handleSourceMessage(getAppContext(), message);
});

export const sourcesEventsPoison = defineQueue('sources-events-poison', { queueName: TRIGGER_QUEUES.sourceEventsPoison }, async (message) => {
  await sourceMessagePoisoned(getAppContext(), message);
});

for (const definition of [sourcesEvents, sourcesEventsPoison]) app.storageQueue(definition.name, definition.options);
