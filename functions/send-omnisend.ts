import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { chunkMessageSchema } from '../src/domain/run';
import { sendChunk } from '../src/pipeline/send/sender';
import { parseMessage } from '../src/storage/queue-messages';
import { QUEUE_NAMES } from '../src/storage/names';
import { app } from './app';

export const sendOmnisend = defineQueue('send-omnisend', { queueName: QUEUE_NAMES.chunksOmnisend }, async (message) => {
  await sendChunk(getAppContext(), parseMessage(chunkMessageSchema, message, QUEUE_NAMES.chunksOmnisend));
});

app.storageQueue(sendOmnisend.name, sendOmnisend.options);
