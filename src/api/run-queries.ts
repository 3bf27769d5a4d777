// Reading runs: a caller sees the runs of the exports they may see (404 otherwise).
import type { AppContext } from '../app/context';
import { isAdmin, type Principal } from '../domain/policy';
import type { RejectRow, RunResource } from '../domain/run';
import { Errors } from '../errors';
import { toRunResource } from '../pipeline/resource';
import { listRejectsPage } from '../pipeline/store/rejects';
import { getRunDoc, listRunIdsPage } from '../pipeline/store/runs-table';
import { openContinuation, sealContinuation } from './continuation';
import { getVisibleExport } from './visibility';

export const RUNS_PAGE_SIZE = 50;
export const REJECTS_PAGE_SIZE = 500;

export async function getVisibleRun(context: AppContext, principal: Principal, runId: string): Promise<RunResource> {
  const run = await getRunDoc(context, runId);
  if (!run) throw Errors.notFound('Run', runId);
  if (!isAdmin(principal)) {
    await getVisibleExport(context, principal, run.value.exportId).catch(() => {
      throw Errors.notFound('Run', runId);
    });
  }
  return toRunResource(run.value, context.now());
}

export async function listExportRuns(
  context: AppContext,
  principal: Principal,
  exportId: string,
  continuationToken: string | undefined,
): Promise<{ items: RunResource[]; continuationToken?: string }> {
  await getVisibleExport(context, principal, exportId);
  const cursor = await openContinuation(context, 'runs', exportId, continuationToken);
  const page = await listRunIdsPage(context, exportId, RUNS_PAGE_SIZE, cursor);
  const docs = await Promise.all(page.runIds.map((runId) => getRunDoc(context, runId)));
  const now = context.now();
  const items = docs.flatMap((doc) => (doc ? [toRunResource(doc.value, now)] : []));
  const next = await sealContinuation(context, 'runs', exportId, page.continuationToken);
  return next ? { items, continuationToken: next } : { items };
}

export async function listVisibleRejects(
  context: AppContext,
  principal: Principal,
  runId: string,
  continuationToken: string | undefined,
): Promise<{ items: RejectRow[]; continuationToken?: string }> {
  await getVisibleRun(context, principal, runId);
  const cursor = await openContinuation(context, 'rejects', runId, continuationToken);
  const page = await listRejectsPage(context, runId, REJECTS_PAGE_SIZE, cursor);
  const next = await sealContinuation(context, 'rejects', runId, page.continuationToken);
  return next ? { items: page.items, continuationToken: next } : { items: page.items };
}
