// HTTP handlers of runs: start, read, rejects, cancel, the refresh and the Brevo webhook.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { getAppContext } from '../app/context';
import { json } from '../app/definitions';
import { exportIdSchema } from '../domain/export';
import { Errors } from '../errors';
import { runScheduledRefresh } from '../pipeline/refresh';
import { toRunResource } from '../pipeline/resource';
import { cancelRun } from '../pipeline/run-state';
import { startRun } from '../pipeline/runs';
import { wakeChunkForWebhook } from '../pipeline/webhooks';
import { authorize } from './auth';
import { requireVisibleRun, listExportRuns, listVisibleRejects } from './run-queries';
import { parseQuery, parseWith } from './validation';
import { requireVisibleExport } from './visibility';

const exportParams = z.object({ exportId: exportIdSchema });
const runParams = z.object({ runId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'not a run id') });
const startQuery = z
  .object({
    mode: z.enum(['delta', 'full'], "must be 'delta' or 'full'").default('delta'),
    dryRun: z.enum(['true', 'false'], "must be 'true' or 'false'").default('false'),
  })
  .strict();
const pageQuery = z.object({ continuationToken: z.string().max(2048).optional() }).strict();

export async function handleStartRun(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:start');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const query = parseQuery(request, startQuery);
  const context = getAppContext();
  await requireVisibleExport(context, principal, exportId);
  const run = await startRun(context, exportId, {
    trigger: 'on-demand',
    mode: query.mode,
    dryRun: query.dryRun === 'true',
    requestedBy: principal.userId,
  });
  const statusUrl = `/api/runs/${run.runId}`;
  return json(202, { runId: run.runId, status: run.status, statusUrl }, { location: statusUrl });
}

export async function handleListRuns(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:read');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const { continuationToken } = parseQuery(request, pageQuery);
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
  const { continuationToken } = parseQuery(request, pageQuery);
  return json(200, await listVisibleRejects(getAppContext(), principal, runId, continuationToken));
}

export async function handleCancelRun(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'run:start');
  const { runId } = parseWith(runParams, request.params, 'route');
  const context = getAppContext();
  await requireVisibleRun(context, principal, runId);
  const run = await cancelRun(context, runId, principal.name);
  if (!run) throw Errors.notFound('Run', runId);
  return json(202, toRunResource(run, context.now()));
}

export async function handleRefresh(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'refresh:run');
  const context = getAppContext();
  const occurrence = new Date(Math.floor(context.now().getTime() / 1000) * 1000);
  const runs = await runScheduledRefresh(context, occurrence, principal.userId);
  return json(202, { runs: runs.map((run) => toRunResource(run, context.now())) });
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
