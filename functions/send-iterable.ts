import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { chunkMessageSchema } from '../src/domain/run';
import { sendChunk } from '../src/pipeline/send/sender';
import { parseMessage } from '../src/storage/queue-messages';
import { QUEUE_NAMES } from '../src/storage/names';
import { app } from './app';

export const sendIterable = defineQueue('send-iterable', { queueName: QUEUE_NAMES.chunksIterable }, async (message) => {
  await sendChunk(getAppContext(), parseMessage(chunkMessageSchema, message, QUEUE_NAMES.chunksIterable));
});

app.storageQueue(sendIterable.name, sendIterable.options);
