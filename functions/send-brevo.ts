import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { chunkMessageSchema } from '../src/domain/run';
import { sendChunk } from '../src/pipeline/send/sender';
import { parseMessage } from '../src/storage/queue-messages';
import { QUEUE_NAMES } from '../src/storage/names';
import { app } from './app';

export const sendBrevo = defineQueue('send-brevo', { queueName: QUEUE_NAMES.chunksBrevo }, async (message) => {
  await sendChunk(getAppContext(), parseMessage(chunkMessageSchema, message, QUEUE_NAMES.chunksBrevo));
});

app.storageQueue(sendBrevo.name, sendBrevo.options);
