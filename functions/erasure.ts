import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { erasureMessageSchema } from '../src/domain/privacy';
import { processErasure } from '../src/pipeline/privacy/erasure';
import { TRIGGER_QUEUES } from '../src/pipeline/queues';
import { parseMessage } from '../src/storage/queue-messages';
import { app } from './app';

export const erasure = defineQueue('erasure', { queueName: TRIGGER_QUEUES.erasures }, async (message) => {
  await processErasure(getAppContext(), parseMessage(erasureMessageSchema, message, TRIGGER_QUEUES.erasures).erasureId);
});

app.storageQueue(erasure.name, erasure.options);
