import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { planMessageSchema } from '../src/domain/run';
import { planPoisoned } from '../src/pipeline/poison';
import { parseMessage } from '../src/storage/queue-messages';
import { poisonQueueName, QUEUE_NAMES } from '../src/storage/names';
import { app } from './app';

const queueName = poisonQueueName(QUEUE_NAMES.plan);

export const planPoison = defineQueue('plan-poison', { queueName }, async (message) => {
  await planPoisoned(getAppContext(), parseMessage(planMessageSchema, message, queueName).runId);
});

app.storageQueue(planPoison.name, planPoison.options);
