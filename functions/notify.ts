import { getAppContext } from '../src/app/context';
import { withSpan } from '../src/app/telemetry';
import { defineQueue } from '../src/app/definitions';
import { notificationMessageSchema } from '../src/domain/notification';
import { deliverNotification } from '../src/pipeline/notify/deliver';
import { TRIGGER_QUEUES } from '../src/pipeline/queues';
import { parseMessage } from '../src/storage/queue-messages';
import { app } from './app';

export const notify = defineQueue('notify', { queueName: TRIGGER_QUEUES.notifications }, async (message) => {
  const parsed = parseMessage(notificationMessageSchema, message, TRIGGER_QUEUES.notifications);
  await withSpan('notification.deliver', { runId: parsed.runId }, () => deliverNotification(getAppContext(), parsed));
});

app.storageQueue(notify.name, notify.options);
