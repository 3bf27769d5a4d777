import { getAppContext } from '../src/app/context';
import { withSpan } from '../src/app/telemetry';
import { defineQueue } from '../src/app/definitions';
import { planMessageSchema } from '../src/domain/run';
import { planRun } from '../src/pipeline/plan/planner';
import { TRIGGER_QUEUES } from '../src/pipeline/queues';
import { parseMessage } from '../src/storage/queue-messages';
import { app } from './app';

export const plan = defineQueue('plan', { queueName: TRIGGER_QUEUES.plan }, async (message) => {
  const { runId } = parseMessage(planMessageSchema, message, TRIGGER_QUEUES.plan);
  await withSpan('run.plan', { runId }, () => planRun(getAppContext(), runId));
});

app.storageQueue(plan.name, plan.options);
