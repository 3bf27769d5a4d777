import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { planMessageSchema } from '../src/domain/run';
import { planRun } from '../src/pipeline/plan/planner';
import { parseMessage } from '../src/storage/queue-messages';
import { QUEUE_NAMES } from '../src/storage/names';
import { app } from './app';

export const plan = defineQueue('plan', { queueName: QUEUE_NAMES.plan }, async (message) => {
  const { runId } = parseMessage(planMessageSchema, message, QUEUE_NAMES.plan);
  await planRun(getAppContext(), runId);
});

app.storageQueue(plan.name, plan.options);
