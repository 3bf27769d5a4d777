import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { planMessageSchema } from '../src/domain/run';
import { planPoisoned } from '../src/pipeline/poison';
import { TRIGGER_QUEUES } from '../src/pipeline/queues';
import { parseMessage } from '../src/storage/queue-messages';
import { app } from './app';

export const planPoison = defineQueue('plan-poison', { queueName: TRIGGER_QUEUES.planPoison }, async (message) => {
  await planPoisoned(getAppContext(), parseMessage(planMessageSchema, message, TRIGGER_QUEUES.planPoison).runId);
});

app.storageQueue(planPoison.name, planPoison.options);
