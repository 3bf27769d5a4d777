// When a run has ended: the notifications its export asks for. Each (event, receiver) gets its row
// (created once, whoever gets there first) and one message on the notification queue. Called by
// run-state after the write that ended the run, and again whenever an ended run is observed (a
// redelivered chunk message), so a crash between the two still notifies; never throws.
import type { AppContext } from '../../app/context';
import { notificationEventOf } from '../../domain/notification';
import type { RunDoc } from '../../domain/run';
import { getExport } from '../../exports/repository';
import { enqueueNotification } from '../queues';
import { createNotificationRow, notificationKey, updateNotificationRow } from './store';

export async function notifyRunEnded(context: AppContext, doc: RunDoc): Promise<void> {
  const event = notificationEventOf(doc.status);
  if (!event) return;
  try {
    const receivers = (await getExport(context, doc.exportId))?.export.notifications ?? [];
    for (const [index, receiver] of receivers.entries()) {
      if (!receiver.events.includes(event)) continue;
      const key = notificationKey(event, index);
      const row = await createNotificationRow(context, doc.runId, key, {
        url: receiver.url,
        format: receiver.format,
        event,
        status: 'pending',
        attempts: 0,
        enqueued: false,
      });
      if (row.enqueued || row.attempts > 0 || row.status !== 'pending') continue;
      await enqueueNotification(context, { runId: doc.runId, key });
      await updateNotificationRow(context, row, { enqueued: true });
    }
  } catch (error) {
    context.log.warn('could not queue the notifications of a run', { runId: doc.runId, exportId: doc.exportId, provider: doc.provider, error: error instanceof Error ? error : String(error) });
  }
}
