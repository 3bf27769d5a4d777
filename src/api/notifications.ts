// Run notifications as the export API sees them: receiver URLs are checked when an export is
// saved (https only, no internal address; loopback only outside Azure), the export's signing key
// is created with its first receivers and answered that once, and
// `POST /api/exports/{exportId}/notifications/test` sends each receiver a test message now.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { getAppContext, type AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { json } from '../app/definitions';
import { runsInAzure } from '../config';
import { exportIdSchema, type Export } from '../domain/export';
import { notificationUrlProblem, urlHost, type NotificationTarget, type NotificationTestResult } from '../domain/notification';
import { emptyTotals, type RunDoc } from '../domain/run';
import type { ValidationIssue } from '../errors';
import { runFacts, sendNotification } from '../pipeline/notify/deliver';
import { toSecretName } from '../secrets';
import { audit } from './audit';
import { authorize } from './auth';
import { parseWith } from './validation';
import { requireVisibleExport } from './visibility';

const exportParams = z.object({ exportId: exportIdSchema });

/** What is wrong with an export's receivers (empty when nothing is). */
export function notificationProblems(context: AppContext, receivers: readonly NotificationTarget[]): ValidationIssue[] {
  const rules = { allowLoopback: !runsInAzure(context.config) };
  return receivers.flatMap((receiver, index) => {
    const problem = notificationUrlProblem(receiver.url, rules);
    return problem ? [{ path: `notifications.${index}.url`, message: problem }] : [];
  });
}

export function notificationSecretName(exportId: string): string {
  return toSecretName('export-notification-key', exportId);
}

/**
 * The export's signing key, created when it has receivers and no key yet: the value is answered
 * once (in the create or update answer) and kept only in the secret store.
 */
export async function ensureNotificationSecret(
  context: AppContext,
  value: Export,
  options: OperationOptions = {},
): Promise<{ ref: { name: string; version: string }; value: string } | undefined> {
  if (value.notificationSecret || (value.notifications ?? []).length === 0) return undefined;
  const secret = randomBytes(32).toString('base64url');
  const stored = await context.secrets.setSecret(notificationSecretName(value.id), secret, options);
  return { ref: { name: stored.name, version: stored.version }, value: secret };
}

/** `POST /api/exports/{exportId}/notifications/test`: one test message to each receiver, answered with how each went. */
export async function handleTestNotifications(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:write');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const context = getAppContext();
  const { stored } = await requireVisibleExport(context, principal, exportId);
  const exp = stored.export;
  const ref = exp.notificationSecret;
  const secret = ref ? await context.secrets.getSecret(ref.name, { version: ref.version }) : undefined;
  const facts = runFacts(context, sampleRun(context, exp), exp.name, 'notification.test', `test.${randomBytes(6).toString('hex')}`);
  const results: NotificationTestResult['results'] = [];
  for (const receiver of exp.notifications ?? []) {
    const outcome = await sendNotification(context, receiver.url, receiver.format, facts, secret);
    results.push({
      urlHost: urlHost(receiver.url),
      format: receiver.format,
      delivered: outcome.delivered,
      ...(outcome.statusCode === undefined ? {} : { statusCode: outcome.statusCode }),
      ...(outcome.error ? { error: outcome.error } : {}),
    });
  }
  await audit(context, principal, { action: 'test', resourceType: 'notification', resourceId: exportId, summary: `${results.filter((result) => result.delivered).length} of ${results.length} receivers answered` });
  const body: NotificationTestResult = { results };
  return json(200, body);
}

/** A run that never happened, for the test message. */
function sampleRun(context: AppContext, exp: Export): RunDoc {
  const now = context.now().toISOString();
  return {
    runId: 'test',
    exportId: exp.id,
    provider: 'iterable',
    trigger: 'on-demand',
    mode: 'delta',
    dryRun: true,
    status: 'succeeded',
    reason: 'This is a test notification; no run took place',
    requestedBy: 'test',
    createdAt: now,
    finishedAt: now,
    totals: emptyTotals(),
    chunksTotal: 0,
    planned: true,
    chunksConfirmed: 0,
    chunksFailed: 0,
    failedChunks: [],
    segmentVersions: {},
    confirmRemovals: false,
  };
}
