// Reading runs: a caller sees the runs of the exports they may see (404 otherwise). The `list*`
// functions answer one page of the API's list response, `{ items, continuationToken? }`.
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { isAdmin, type Principal } from '../domain/policy';
import type { RejectRow, RunResource } from '../domain/run';
import { Errors } from '../errors';
import { listRunNotifications } from '../pipeline/notify/store';
import { toRunResource } from '../pipeline/resource';
import { getRejectsPage } from '../pipeline/store/rejects';
import { getRunDoc, getRunIdsPage } from '../pipeline/store/runs-table';
import { requireVisibleExport } from './visibility';
import { openContinuation, sealContinuation } from './continuation';

export const RUNS_PAGE_SIZE = 50;
export const REJECTS_PAGE_SIZE = 500;

/** The run, when the caller may see its export; 404 `not_found` otherwise. */
export async function requireVisibleRun(context: AppContext, principal: Principal, runId: string, options: OperationOptions = {}): Promise<RunResource> {
  const run = await getRunDoc(context, runId, options);
  if (!run) throw Errors.notFound('Run', runId);
  if (!isAdmin(principal)) {
    await requireVisibleExport(context, principal, run.value.exportId, options).catch(() => {
      throw Errors.notFound('Run', runId);
    });
  }
  const resource = toRunResource(run.value, context.now());
  const notifications = await listRunNotifications(context, runId, options);
  return notifications.length > 0 ? { ...resource, notifications } : resource;
}

/** A page of an export's runs, newest first. */
export async function listExportRuns(
  context: AppContext,
  principal: Principal,
  exportId: string,
  continuationToken: string | undefined,
  options: OperationOptions = {},
): Promise<{ items: RunResource[]; continuationToken?: string }> {
  await requireVisibleExport(context, principal, exportId, options);
  const cursor = await openContinuation(context, 'runs', exportId, continuationToken);
  const page = await getRunIdsPage(context, exportId, RUNS_PAGE_SIZE, cursor, options);
  const docs = await Promise.all(page.runIds.map((runId) => getRunDoc(context, runId, options)));
  const now = context.now();
  const items = docs.flatMap((doc) => (doc ? [toRunResource(doc.value, now)] : []));
  const next = await sealContinuation(context, 'runs', exportId, page.continuationToken);
  return next ? { items, continuationToken: next } : { items };
}

/** A page of a run's rejects: the planner's first, then the provider's. */
export async function listVisibleRejects(
  context: AppContext,
  principal: Principal,
  runId: string,
  continuationToken: string | undefined,
  options: OperationOptions = {},
): Promise<{ items: RejectRow[]; continuationToken?: string }> {
  await requireVisibleRun(context, principal, runId, options);
  const cursor = await openContinuation(context, 'rejects', runId, continuationToken);
  const page = await getRejectsPage(context, runId, REJECTS_PAGE_SIZE, cursor, options);
  const next = await sealContinuation(context, 'rejects', runId, page.continuationToken);
  return next ? { items: page.items, continuationToken: next } : { items: page.items };
}
