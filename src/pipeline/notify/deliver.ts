// Delivering a run's notification (the `notify` queue function): one POST per message, signed for
// JSON receivers with the export's key (`x-segment-export-signature: sha256=<hex HMAC-SHA256 of the
// body>`). A receiver that fails (5xx, 408, 429, a network error, a timeout) is tried again after a
// growing visibility delay, a bounded number of times; one that refuses (another 4xx) is not. The
// run ended before any of this: nothing here can delay or fail it.
import { createHmac } from 'node:crypto';
import type { AppContext } from '../../app/context';
import { runsInAzure } from '../../config';
import { urlHost, type NotificationFormat, type NotificationMessage } from '../../domain/notification';
import { getExport } from '../../exports/repository';
import { toRunResource } from '../resource';
import { enqueueNotification } from '../queues';
import { getRunDoc } from '../store/runs-table';
import { notificationBody, type NotificationFacts } from './payload';
import { postToReceiver, ReceiverRefused } from './receiver';
import { getNotificationRow, updateNotificationRow, type NotificationRow } from './store';
import type { RunDoc } from '../../domain/run';

export const DEFAULT_RETRY_DELAYS_MS = [15_000, 60_000, 300_000, 900_000, 1_800_000] as const;
export const SIGNATURE_HEADER = 'x-segment-export-signature';

export interface SendOutcome {
  delivered: boolean;
  /** Worth another try later (a 5xx, 408, 429, or no answer). */
  retry: boolean;
  statusCode?: number;
  error?: string;
}

/** The HMAC-SHA256 signature header value of `body` under `secret`. */
export function signatureOf(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** The run's facts as a notification tells them. */
export function runFacts(context: AppContext, doc: RunDoc, exportName: string, event: NotificationFacts['event'], deliveryId: string): NotificationFacts {
  const base = context.config.publicBaseUrl ?? '';
  const resource = toRunResource(doc, context.now());
  return {
    event,
    deliveryId,
    sentAt: context.now().toISOString(),
    run: resource,
    exportName,
    links: { run: `${base}/api/runs/${encodeURIComponent(doc.runId)}`, web: `${base}/#/runs/${encodeURIComponent(doc.runId)}` },
  };
}

/** One POST of `facts` in `format`, signed when a secret is given; never throws. */
export async function sendNotification(context: AppContext, url: string, format: NotificationFormat, facts: NotificationFacts, secret: string | undefined): Promise<SendOutcome> {
  const body = JSON.stringify(notificationBody(format, facts));
  const headers: Record<string, string> = { 'x-segment-export-event': facts.event, 'x-segment-export-delivery': facts.deliveryId };
  if (format === 'json' && secret) headers[SIGNATURE_HEADER] = signatureOf(secret, body);
  try {
    const { statusCode } = await postToReceiver(url, body, { allowLoopback: !runsInAzure(context.config), headers });
    if (statusCode >= 200 && statusCode < 300) return { delivered: true, retry: false, statusCode };
    const retry = statusCode >= 500 || statusCode === 408 || statusCode === 425 || statusCode === 429;
    return { delivered: false, retry, statusCode, error: `the receiver answered ${statusCode}` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { delivered: false, retry: !(error instanceof ReceiverRefused), error: message.slice(0, 300) };
  }
}

/** The queue function: one attempt at the notification the message names. */
export async function deliverNotification(context: AppContext, message: NotificationMessage): Promise<void> {
  const row = await getNotificationRow(context, message.runId, message.key);
  if (!row || row.status !== 'pending') return;
  // Claiming the attempt under the row's ETag: a duplicate message finds it changed and stops.
  const claimed = await updateNotificationRow(context, row, { attempts: row.attempts + 1, enqueued: true });
  if (!claimed) return;
  const outcome = await attempt(context, claimed);
  await settle(context, claimed, outcome);
}

async function attempt(context: AppContext, row: NotificationRow): Promise<SendOutcome> {
  const run = await getRunDoc(context, row.partitionKey);
  if (!run) return { delivered: false, retry: false, error: 'the run no longer exists' };
  const exp = (await getExport(context, run.value.exportId))?.export;
  const secret = exp?.notificationSecret ? await context.secrets.getSecret(exp.notificationSecret.name, { version: exp.notificationSecret.version }) : undefined;
  if (row.format === 'json' && !secret) return { delivered: false, retry: false, error: 'the export and its signing key no longer exist' };
  const facts = runFacts(context, run.value, exp?.name ?? run.value.exportId, row.event, `${row.partitionKey}.${row.rowKey}`);
  return await sendNotification(context, row.url, row.format, facts, secret);
}

async function settle(context: AppContext, row: NotificationRow, outcome: SendOutcome): Promise<void> {
  const delays = context.tuning.notificationRetryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const fields = { runId: row.partitionKey, event: row.event, receiver: urlHost(row.url), attempts: row.attempts, statusCode: outcome.statusCode };
  const last = { ...(outcome.statusCode === undefined ? {} : { lastStatusCode: outcome.statusCode }), ...(outcome.error ? { lastError: outcome.error } : {}) };
  if (outcome.delivered) {
    await updateNotificationRow(context, row, { status: 'delivered', deliveredAt: context.now().toISOString(), ...last });
    context.log.info('notification delivered', fields);
    return;
  }
  const delay = outcome.retry ? delays[row.attempts - 1] : undefined;
  if (delay === undefined) {
    await updateNotificationRow(context, row, { status: 'failed', ...last });
    context.log.warn('notification failed', { ...fields, error: outcome.error });
    return;
  }
  const saved = await updateNotificationRow(context, row, last);
  if (saved) await enqueueNotification(context, { runId: row.partitionKey, key: row.rowKey }, delay);
  context.log.info('notification will be retried', { ...fields, delayInMs: delay, error: outcome.error });
}
