import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { chunkMessageSchema } from '../src/domain/run';
import { chunkPoisoned } from '../src/pipeline/poison';
import { parseMessage } from '../src/storage/queue-messages';
import { poisonQueueName, QUEUE_NAMES } from '../src/storage/names';
import { app } from './app';

const queueName = poisonQueueName(QUEUE_NAMES.chunksOmnisend);

export const sendOmnisendPoison = defineQueue('send-omnisend-poison', { queueName }, async (message) => {
  await chunkPoisoned(getAppContext(), parseMessage(chunkMessageSchema, message, queueName));
});

app.storageQueue(sendOmnisendPoison.name, sendOmnisendPoison.options);
