import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { chunkMessageSchema } from '../src/domain/run';
import { chunkPoisoned } from '../src/pipeline/poison';
import { parseMessage } from '../src/storage/queue-messages';
import { poisonQueueName, QUEUE_NAMES } from '../src/storage/names';
import { app } from './app';

const queueName = poisonQueueName(QUEUE_NAMES.chunksIterable);

export const sendIterablePoison = defineQueue('send-iterable-poison', { queueName }, async (message) => {
  await chunkPoisoned(getAppContext(), parseMessage(chunkMessageSchema, message, queueName));
});

app.storageQueue(sendIterablePoison.name, sendIterablePoison.options);
