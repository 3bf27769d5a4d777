// The export API: handlers of `/api/exports`, and the decisions that need more than the exports
// table — the caller may use the connection, the segments exist and hold every mapped field,
// Brevo's list exists — composed here from the resources and the pipeline. Saving never runs
// an export; deleting one cancels its active run.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { getAppContext, type AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { json } from '../app/definitions';
import { getConnection } from '../connections/repository';
import type { Connection } from '../domain/connection';
import {
  createExportBodySchema,
  deleteExportQuerySchema,
  exportIdSchema,
  updateExportBodySchema,
  type CreateExportBody,
  type Export,
  type ExportCreated,
  type ExportResource,
  type UpdateExportBody,
} from '../domain/export';
import type { RunDoc, RunStarted } from '../domain/run';
import { canUseExport, type Principal } from '../domain/policy';
import { Errors } from '../errors';
import { createExportRow, listExports, replaceExportRow } from '../exports/repository';
import { exportProblems, invalidExport, newExportId } from '../exports/validation';
import { requireProviderAccount } from '../pipeline/accounts';
import { removeExport, removeExportWithMembers } from '../pipeline/cleanup';
import { startRun } from '../pipeline/runs';
import { isProviderErrorKind, toApiError } from '../providers/errors';
import { getSegment } from '../segments/repository';
import { urlHost } from '../domain/notification';
import { changedFields, secretChange } from '../audit/diff';
import { audit, auditChanges } from './audit';
import { omnisendTagName } from '../providers/omnisend/tags';
import { authorize } from './auth';
import { ensureNotificationSecret, notificationProblems } from './notifications';
import { parseQuery, parseWith, readJsonBody } from './validation';
import { requireVisibleExport } from './visibility';

const exportParams = z.object({ exportId: exportIdSchema });
const MAX_UPDATE_ATTEMPTS = 5;
const LIST_CHECK_TIMEOUT_IN_MS = 10_000;

export async function handleCreateExport(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:write');
  const body = await readJsonBody(request, createExportBodySchema);
  const created = await createExport(getAppContext(), principal, body);
  return json(201, created, { location: `/api/exports/${created.id}` });
}

export async function handleListExports(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:read');
  return json(200, { items: await listVisibleExports(getAppContext(), principal) });
}

export async function handleGetExport(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:read');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const context = getAppContext();
  const { stored, connection } = await requireVisibleExport(context, principal, exportId);
  return json(200, present(stored.export, connection, stored.activeRunId, await segmentNames(context, stored.export, connection), stored.deleting));
}

export async function handleUpdateExport(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:write');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const body = await readJsonBody(request, updateExportBodySchema);
  return json(200, await updateExport(getAppContext(), principal, exportId, body));
}

export async function handleDeleteExport(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:write');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const { removeMembers } = parseQuery(request, deleteExportQuerySchema);
  const context = getAppContext();
  const { stored } = await requireVisibleExport(context, principal, exportId);
  await auditExport(context, principal, 'delete', stored.export, undefined, removeMembers === 'true' ? 'with its members (a cleanup run removes them first)' : undefined);
  if (removeMembers === 'true') {
    const run = await removeExportWithMembers(context, exportId, principal.userId, `deleted by ${principal.name}`);
    if (!run) return { status: 204 };
    context.log.info('export deletion with its members started', { exportId, runId: run.runId, userId: principal.userId });
    const started: RunStarted = { runId: run.runId, status: run.status, statusUrl: `/api/runs/${run.runId}` };
    return json(202, started, { location: started.statusUrl });
  }
  await removeExport(context, exportId, `deleted by ${principal.name}`);
  context.log.info('export deleted', { exportId, userId: principal.userId });
  return { status: 204 };
}

export async function createExport(context: AppContext, principal: Principal, body: CreateExportBody, options: OperationOptions = {}): Promise<ExportCreated> {
  const connection = await usableConnection(context, principal, body.connectionId, options);
  const now = context.now().toISOString();
  const value: Export = {
    id: newExportId(),
    ...(body.notifications ? { notifications: body.notifications } : {}),
    name: body.name,
    connectionId: body.connectionId,
    segmentIds: body.segmentIds,
    mapping: body.mapping,
    options: body.options,
    createdAt: now,
    createdBy: principal.userId,
    updatedAt: now,
    updatedBy: principal.userId,
  };
  await validateExport(context, connection, value, options);
  const secret = await ensureNotificationSecret(context, value, options);
  const saved: Export = secret ? { ...value, notificationSecret: secret.ref } : value;
  await createExportRow(context, saved, options);
  context.log.info('export created', { exportId: value.id, connectionId: value.connectionId, userId: principal.userId });
  await auditExport(context, principal, 'create', undefined, saved);
  const resource = present(saved, connection, undefined, await segmentNames(context, value, connection, options));
  return secret ? { ...resource, notificationSecret: secret.value } : resource;
}

/** An export as the audit log shows it: receivers by host (Slack and Teams URLs carry a token), no secret reference. */
function auditView(value: Export): Record<string, unknown> {
  const { notificationSecret: _secret, notifications, ...rest } = value;
  return { ...rest, ...(notifications ? { notifications: notificationView(notifications) } : {}) };
}

function notificationView(targets: Export['notifications']): Record<string, unknown>[] {
  return (targets ?? []).map((target) => ({ ...target, url: urlHost(target.url) }));
}

/**
 * Records a change of an export and, when its receivers changed, one of its notification targets
 * too (added, changed or removed; by host), so that `resourceType=notification` finds it. A new
 * signing secret is named, never shown.
 */
async function auditExport(context: AppContext, principal: Principal, action: 'create' | 'update' | 'delete', before: Export | undefined, after: Export | undefined, summary?: string): Promise<void> {
  const exportId = (after ?? before)!.id;
  const changes = auditChanges(before && auditView(before), after && auditView(after), { ignore: ['id'] });
  await audit(context, principal, { action, resourceType: 'export', resourceId: exportId, summary, changes });
  const [old, next] = [before?.notifications ?? [], after?.notifications ?? []];
  if (JSON.stringify(old) === JSON.stringify(next)) return;
  const targetAction = old.length === 0 ? 'create' : next.length === 0 ? 'delete' : 'update';
  const secretCreated = after?.notificationSecret !== undefined && before?.notificationSecret === undefined;
  await audit(context, principal, {
    action: targetAction,
    resourceType: 'notification',
    resourceId: exportId,
    summary: `receivers of export ${exportId}: ${next.map((target) => urlHost(target.url)).join(', ') || 'none'}`,
    changes: [
      ...changedFields(old.length > 0 ? { notifications: notificationView(old) } : {}, next.length > 0 ? { notifications: notificationView(next) } : {}),
      ...(secretCreated ? [secretChange('notificationSecret', 'signing secret created (shown once, in the answer)')] : []),
    ],
  });
}

async function listVisibleExports(context: AppContext, principal: Principal, options: OperationOptions = {}): Promise<ExportResource[]> {
  const connections = new Map<string, Connection | undefined>();
  const items: ExportResource[] = [];
  for await (const stored of listExports(context, options)) {
    const { connectionId } = stored.export;
    if (!connections.has(connectionId)) connections.set(connectionId, (await getConnection(context, connectionId, options))?.connection);
    const connection = connections.get(connectionId);
    if (canUseExport(principal, connection)) items.push(present(stored.export, connection, stored.activeRunId, await segmentNames(context, stored.export, connection), stored.deleting));
  }
  return items.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

async function updateExport(context: AppContext, principal: Principal, exportId: string, body: UpdateExportBody, options: OperationOptions = {}): Promise<ExportCreated> {
  for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
    const { stored } = await requireVisibleExport(context, principal, exportId, options);
    const connection = await usableConnection(context, principal, stored.export.connectionId, options);
    const next: Export = {
      ...stored.export,
      name: body.name ?? stored.export.name,
      segmentIds: body.segmentIds ?? stored.export.segmentIds,
      mapping: body.mapping ?? stored.export.mapping,
      options: body.options ?? stored.export.options,
      notifications: body.notifications ?? stored.export.notifications,
      updatedAt: context.now().toISOString(),
      updatedBy: principal.userId,
    };
    await validateExport(context, connection, next, options);
    // The first receivers of an export get its signing secret, shown in this answer only.
    const secret = next.notificationSecret ? undefined : await ensureNotificationSecret(context, next, options);
    const saved: Export = secret ? { ...next, notificationSecret: secret.ref } : next;
    if (await replaceExportRow(context, stored, saved, options)) {
      context.log.info('export updated', { exportId, userId: principal.userId });
      await auditExport(context, principal, 'update', stored.export, saved);
      const cleanup = feedsOtherTargets(stored.export, next) ? await startCleanupRun(context, exportId, principal) : undefined;
      const activeRunId = cleanup?.status === 'queued' ? cleanup.runId : stored.activeRunId;
      const resource = present(saved, connection, activeRunId, await segmentNames(context, next, connection, options));
      return secret ? { ...resource, notificationSecret: secret.value } : resource;
    }
  }
  throw Errors.conflict('The export changed while it was being updated; try again');
}

/** A segment taken out, or another Brevo list: targets the export no longer feeds must lose the members it added. */
function feedsOtherTargets(before: Export, after: Export): boolean {
  return before.segmentIds.some((segmentId) => !after.segmentIds.includes(segmentId)) || before.options.listId !== after.options.listId;
}

/**
 * A cleanup run: the targets the export no longer feeds lose the members it added there. A run in
 * progress makes it `skipped`; every later run empties retired targets too.
 */
export async function startCleanupRun(context: AppContext, exportId: string, principal: Principal): Promise<RunDoc> {
  return await startRun(context, exportId, { trigger: 'cleanup', mode: 'delta', dryRun: false, requestedBy: principal.userId });
}

async function usableConnection(context: AppContext, principal: Principal, connectionId: string, options: OperationOptions): Promise<Connection> {
  const connection = (await getConnection(context, connectionId, options))?.connection;
  if (!connection || !canUseExport(principal, connection)) {
    throw invalidExport([{ path: 'connectionId', message: `no connection '${connectionId}' that you may use` }]);
  }
  return connection;
}

async function validateExport(context: AppContext, connection: Connection, value: Export, options: OperationOptions): Promise<void> {
  const segments = await Promise.all(value.segmentIds.map((segmentId) => getSegment(context, segmentId, options)));
  const problems = [...exportProblems(value, connection.provider, segments), ...notificationProblems(context, value.notifications ?? [])];
  if (problems.length > 0) throw invalidExport(problems);
  if (connection.provider === 'brevo' && value.options.listId !== undefined) await checkBrevoList(context, connection, value.options.listId, options);
}

/**
 * Brevo imports into a list that must exist: 422 `list_not_found` when the account has no such list;
 * any other provider failure is answered as `toApiError` says.
 */
async function checkBrevoList(context: AppContext, connection: Connection, listId: number, options: OperationOptions): Promise<void> {
  try {
    const { adapter } = await requireProviderAccount(context, connection.id, { ...options, fresh: true });
    await adapter.prepareTarget({ provider: 'brevo', listId }, { abortSignal: options.abortSignal, timeoutInMs: LIST_CHECK_TIMEOUT_IN_MS });
  } catch (error) {
    if (isProviderErrorKind(error, 'permanent')) {
      throw Errors.listNotFound('Brevo', listId, {
        details: [{ path: 'options.listId', message: error.providerMessage ?? 'the list does not exist' }],
        cause: error,
      });
    }
    throw toApiError(error);
  }
}

/** The names of an Omnisend export's segments (the tags are named after them); none for other providers. */
async function segmentNames(context: AppContext, value: Export, connection: Connection | undefined, options: OperationOptions = {}): Promise<ReadonlyMap<string, string>> {
  if (connection?.provider !== 'omnisend') return new Map();
  const segments = await Promise.all(value.segmentIds.map((segmentId) => getSegment(context, segmentId, options)));
  return new Map(segments.filter((segment) => segment !== undefined).map((segment) => [segment.id, segment.name]));
}

function present(
  value: Export,
  connection: Connection | undefined,
  activeRunId: string | undefined,
  segments: ReadonlyMap<string, string>,
  deleting = false,
): ExportResource {
  const omnisendTags =
    connection?.provider === 'omnisend'
      ? value.segmentIds.flatMap((segmentId) => {
          const segmentName = segments.get(segmentId);
          return segmentName === undefined ? [] : [{ segmentId, segmentName, tag: omnisendTagName(segmentName) }];
        })
      : undefined;
  const { notificationSecret: _secret, ...shown } = value;
  return { ...shown, provider: connection?.provider ?? 'unknown', ...(activeRunId ? { activeRunId } : {}), ...(omnisendTags ? { omnisendTags } : {}), ...(deleting ? { deleting } : {}) };
}
