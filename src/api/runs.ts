// HTTP handlers of runs: start, read, rejects, cancel, the refresh and the Brevo webhook.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { getAppContext } from '../app/context';
import { json } from '../app/definitions';
import { exportIdSchema } from '../domain/export';
import { pageQuerySchema, runIdSchema, startRunQuerySchema, type RefreshResult, type RunStarted } from '../domain/run';
import { Errors } from '../errors';
import { runScheduledRefresh } from '../pipeline/refresh';
import { toRunResource } from '../pipeline/resource';
import { cancelRun } from '../pipeline/run-state';
import { startRun } from '../pipeline/runs';
import { wakeChunkForWebhook } from '../pipeline/webhooks';
import { audit } from './audit';
import { authorize } from './auth';
import { requireVisibleRun, listExportRuns, listVisibleRejects } from './run-queries';
import { parseQuery, parseWith } from './validation';
import { requireVisibleExport } from './visibility';

const exportParams = z.object({ exportId: exportIdSchema });
const runParams = z.object({ runId: runIdSchema });

export async function handleStartRun(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:start');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const query = parseQuery(request, startRunQuerySchema);
  const context = getAppContext();
  await requireVisibleExport(context, principal, exportId);
  const run = await startRun(context, exportId, {
    trigger: 'on-demand',
    mode: query.mode,
    dryRun: query.dryRun === 'true',
    confirmRemovals: query.confirmRemovals === 'true',
    requestedBy: principal.userId,
  });
  await audit(context, principal, {
    action: 'start',
    resourceType: 'run',
    resourceId: run.runId,
    summary: `export ${exportId}: mode ${query.mode}${query.dryRun === 'true' ? ', dry run' : ''}${query.confirmRemovals === 'true' ? ', confirmRemovals (safety thresholds overridden)' : ''}`,
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
  return json(200, await requireVisibleRun(getAppContext(), principal, runId));
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
  await requireVisibleRun(context, principal, runId);
  const run = await cancelRun(context, runId, principal.name);
  if (!run) throw Errors.notFound('Run', runId);
  await audit(context, principal, { action: 'cancel', resourceType: 'run', resourceId: runId, summary: `export ${run.exportId}; the run is ${run.status}` });
  return json(202, toRunResource(run, context.now()));
}

export async function handleRefresh(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'refresh:run');
  const context = getAppContext();
  const occurrence = new Date(Math.floor(context.now().getTime() / 1000) * 1000);
  const runs = await runScheduledRefresh(context, occurrence, principal.userId);
  for (const run of runs) await audit(context, principal, { action: 'start', resourceType: 'run', resourceId: run.runId, summary: `export ${run.exportId}: the refresh, run now (${run.status})` });
  const result: RefreshResult = { runs: runs.map((run) => toRunResource(run, context.now())) };
  return json(202, result);
}

/**
 * Brevo calls this when an import ends. The body is not documented, so it is only a signal: the
 * chunk is woken up and reads the process status itself. Unknown tokens get 404 and do nothing.
 */
export async function handleBrevoWebhook(request: HttpRequest): Promise<HttpResponseInit> {
  const token = typeof request.params.token === 'string' ? request.params.token : '';
  if (!(await wakeChunkForWebhook(getAppContext(), token))) throw Errors.notFound('Webhook', 'this token');
  return { status: 204 };
}
