import { getAppContext } from '../src/app/context';
import { defineQueue } from '../src/app/definitions';
import { notificationMessageSchema } from '../src/domain/notification';
import { deliverNotification } from '../src/pipeline/notify/deliver';
import { TRIGGER_QUEUES } from '../src/pipeline/queues';
import { parseMessage } from '../src/storage/queue-messages';
import { app } from './app';

export const notify = defineQueue('notify', { queueName: TRIGGER_QUEUES.notifications }, async (message) => {
  await deliverNotification(getAppContext(), parseMessage(notificationMessageSchema, message, TRIGGER_QUEUES.notifications));
});

app.storageQueue(notify.name, notify.options);
