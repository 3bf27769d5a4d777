// The notifications of each run: one row per event and receiver in the run's own partition of the
// notifications table, keyed `<event>.<receiver index>`, so creating them again after a redelivery
// finds them there (a run notifies each receiver once per event). A row keeps the receiver as it
// was when the run ended, and its delivery: status, attempts, the last answer.
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../../app/context';
import type { OperationOptions } from '../../app/operation';
import { notificationEventSchema, notificationFormatSchema, urlHost, type RunNotification } from '../../domain/notification';
import { createEntityIfAbsent, getEntity, replaceEntityIfUnchanged } from '../../storage/tables';

export const notificationRowSchema = z.object({
  partitionKey: z.string(),
  rowKey: z.string(),
  etag: z.string(),
  url: z.string(),
  format: notificationFormatSchema,
  event: notificationEventSchema,
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int().min(0),
  enqueued: z.boolean(),
  lastStatusCode: z.number().int().optional(),
  lastError: z.string().optional(),
  deliveredAt: z.string().optional(),
});
export type NotificationRow = z.infer<typeof notificationRowSchema>;
export type NotificationRowValues = Omit<NotificationRow, 'partitionKey' | 'rowKey' | 'etag'>;

export function notificationsTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.notifications);
}

export const notificationKey = (event: string, index: number): string => `${event}.${String(index).padStart(2, '0')}`;

/** Creates the row unless it exists; answers the row as stored afterwards. */
export async function createNotificationRow(context: AppContext, runId: string, key: string, values: NotificationRowValues): Promise<NotificationRow> {
  await createEntityIfAbsent(notificationsTable(context), { partitionKey: runId, rowKey: key, ...values });
  const row = await getNotificationRow(context, runId, key);
  if (!row) throw new Error(`The notification ${runId}/${key} vanished right after it was written`);
  return row;
}

export async function getNotificationRow(context: AppContext, runId: string, key: string, options: OperationOptions = {}): Promise<NotificationRow | undefined> {
  return await getEntity(notificationsTable(context), runId, key, notificationRowSchema, options);
}

/** Merges `values` into the row under its ETag; the new row, or undefined when someone changed it meanwhile. */
export async function updateNotificationRow(context: AppContext, row: NotificationRow, values: Partial<NotificationRowValues>): Promise<NotificationRow | undefined> {
  const etag = await replaceEntityIfUnchanged(notificationsTable(context), { partitionKey: row.partitionKey, rowKey: row.rowKey, ...values }, row.etag, { mode: 'Merge' });
  return etag === undefined ? undefined : { ...row, ...values, etag };
}

/** A run's notifications as its resource shows them (the receiver by host only). */
export async function listRunNotifications(context: AppContext, runId: string, options: OperationOptions = {}): Promise<RunNotification[]> {
  const notifications: RunNotification[] = [];
  const entities = notificationsTable(context).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${runId}` }, abortSignal: options.abortSignal });
  for await (const entity of entities) {
    const row = notificationRowSchema.parse(entity);
    notifications.push({
      urlHost: urlHost(row.url),
      event: row.event,
      status: row.status,
      attempts: row.attempts,
      ...(row.lastStatusCode === undefined ? {} : { lastStatusCode: row.lastStatusCode }),
      ...(row.lastError === undefined ? {} : { lastError: row.lastError }),
    });
  }
  return notifications;
}
