import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { getAppContext } from '../app/context';
import { json } from '../app/definitions';
import { exportIdSchema } from '../domain/export';
import { pageQuerySchema, runIdSchema, startRunQuerySchema, type RefreshResult, type RunStarted } from '../domain/run';
import { Errors } from '../errors';
import { getVisibleExport } from '../exports/service';
import { cancelRun, startRun } from '../runs/lifecycle';
import { getVisibleRun, listExportRuns, listVisibleRejects } from '../runs/queries';
import { runScheduledRefresh } from '../runs/refresh';
import { toRunResource } from '../runs/resource';
import { chunkForWebhook } from '../runs/provider-access';
import { getRunDoc } from '../runs/repository';
import { sendMessage } from '../storage/queue-messages';
import { chunkQueueName } from '../runs/provider-access';
import { authorize } from './auth';
import { parseQuery, parseWith } from './validation';

/** HTTP handlers of runs: start, read, rejects, cancel, the refresh and the Brevo webhook. */
const exportParams = z.object({ exportId: exportIdSchema });
const runParams = z.object({ runId: runIdSchema });

export async function handleStartRun(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:start');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const query = parseQuery(request, startRunQuerySchema);
  const context = getAppContext();
  await getVisibleExport(context, principal, exportId);
  const run = await startRun(context, exportId, {
    trigger: 'on-demand',
    mode: query.mode,
    dryRun: query.dryRun === 'true',
    requestedBy: principal.name,
  });
  const started: RunStarted = { runId: run.runId, status: run.status, statusUrl: `/api/runs/${run.runId}` };
  return json(202, started, { location: started.statusUrl });
}

export async function handleListRuns(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:read');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const { continuationToken } = parseQuery(request, pageQuerySchema);
  return json(200, await listExportRuns(getAppContext(), principal, exportId, continuationToken));
}

export async function handleGetRun(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:read');
  const { runId } = parseWith(runParams, request.params, 'route');
  return json(200, await getVisibleRun(getAppContext(), principal, runId));
}

export async function handleListRejects(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:read');
  const { runId } = parseWith(runParams, request.params, 'route');
  const { continuationToken } = parseQuery(request, pageQuerySchema);
  return json(200, await listVisibleRejects(getAppContext(), principal, runId, continuationToken));
}

export async function handleCancelRun(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:start');
  const { runId } = parseWith(runParams, request.params, 'route');
  const context = getAppContext();
  await getVisibleRun(context, principal, runId);
  const run = await cancelRun(context, runId, principal.name);
  return json(202, toRunResource(run, context.now()));
}

export async function handleRefresh(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'refresh:run');
  const context = getAppContext();
  const occurrence = new Date(Math.floor(context.now().getTime() / 1000) * 1000);
  const runs = await runScheduledRefresh(context, occurrence, principal.name);
  const result: RefreshResult = { runs: runs.map((run) => toRunResource(run, context.now())) };
  return json(202, result);
}

/**
 * Brevo calls this when an import ends. The body is not documented, so it is only a signal: the
 * chunk is woken up and reads the process status itself. Unknown tokens get 404 and do nothing.
 */
export async function handleBrevoWebhook(request: HttpRequest): Promise<HttpResponseInit> {
  const token = typeof request.params.token === 'string' ? request.params.token : '';
  const context = getAppContext();
  const target = await chunkForWebhook(context, token);
  if (!target) throw Errors.notFound('Webhook', 'this token');
  const run = await getRunDoc(context, target.runId);
  if (run) await sendMessage(context.storage.queue(chunkQueueName(context, run.value.provider)), target);
  return { status: 204 };
}
