import { randomBytes } from 'node:crypto';
import { canUseConnection, isAdmin, type Principal } from '../api/auth';
import type { AppContext } from '../app/context';
import { readConnection } from '../connections/repository';
import { getConnectionForUse } from '../connections/service';
import type { Connection } from '../domain/connection';
import {
  MAPPING_KEYS,
  type CreateExportBody,
  type Export,
  type ExportResource,
  type UpdateExportBody,
} from '../domain/export';
import type { Segment } from '../domain/segment';
import { AppError, Errors, isAppError, withDetails } from '../errors';
import { isProviderError } from '../providers/errors';
import { providerDisplayName } from '../providers/errors';
import { findSegment } from '../segments/repository';
import { deleteLedger } from '../runs/ledger';
import { finishRun } from '../runs/lifecycle';
import { adapterFor } from '../runs/provider-access';
import { deleteRunIndex } from '../runs/repository';
import { deleteExportRow, insertExport, listExports, readExport, replaceExport, type StoredExport } from './repository';

/**
 * What the export API does. An export is checked when it is saved — its connection usable by the
 * caller, its segments present, every mapped field in every segment, Brevo's list existing — and
 * saving never runs it.
 */
export interface ExportCallOptions {
  abortSignal?: AbortSignal;
}

interface Problem {
  path: string;
  message: string;
}

export function newExportId(): string {
  return `exp-${randomBytes(6).toString('hex')}`;
}

export async function createExport(
  context: AppContext,
  principal: Principal,
  body: CreateExportBody,
  options: ExportCallOptions = {},
): Promise<ExportResource> {
  const connection = await usableConnection(context, principal, body.connectionId);
  const now = context.now().toISOString();
  const value: Export = {
    id: newExportId(),
    name: body.name,
    connectionId: body.connectionId,
    segmentIds: body.segmentIds,
    mapping: body.mapping,
    options: body.options,
    createdAt: now,
    createdBy: principal.name,
    updatedAt: now,
    updatedBy: principal.name,
  };
  await validateExport(context, connection, value, options);
  await insertExport(context, value);
  context.log.info('export created', { exportId: value.id, connectionId: value.connectionId, userId: principal.userId });
  return present(value, connection, undefined);
}

export async function listVisibleExports(context: AppContext, principal: Principal): Promise<ExportResource[]> {
  const connections = new Map<string, Connection | undefined>();
  const items: ExportResource[] = [];
  for await (const stored of listExports(context)) {
    if (!connections.has(stored.export.connectionId)) {
      connections.set(stored.export.connectionId, (await readConnection(context, stored.export.connectionId))?.connection);
    }
    const connection = connections.get(stored.export.connectionId);
    if (!isAdmin(principal) && (!connection || !canUseConnection(principal, connection))) continue;
    items.push(present(stored.export, connection, stored.activeRunId));
  }
  return items.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

/** The export, when the caller may see it (404 otherwise: a Contributor does not learn it exists). */
export async function getVisibleExport(context: AppContext, principal: Principal, exportId: string): Promise<{ stored: StoredExport; connection: Connection | undefined }> {
  const stored = await readExport(context, exportId);
  if (!stored) throw Errors.notFound('Export', exportId);
  const connection = (await readConnection(context, stored.export.connectionId))?.connection;
  if (!isAdmin(principal) && (!connection || !canUseConnection(principal, connection))) throw Errors.notFound('Export', exportId);
  return { stored, connection };
}

export async function getExportResource(context: AppContext, principal: Principal, exportId: string): Promise<ExportResource> {
  const { stored, connection } = await getVisibleExport(context, principal, exportId);
  return present(stored.export, connection, stored.activeRunId);
}

export async function updateExport(
  context: AppContext,
  principal: Principal,
  exportId: string,
  body: UpdateExportBody,
  options: ExportCallOptions = {},
): Promise<ExportResource> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { stored } = await getVisibleExport(context, principal, exportId);
    const connection = await usableConnection(context, principal, stored.export.connectionId);
    const next: Export = {
      ...stored.export,
      name: body.name ?? stored.export.name,
      segmentIds: body.segmentIds ?? stored.export.segmentIds,
      mapping: body.mapping ?? stored.export.mapping,
      options: body.options ?? stored.export.options,
      updatedAt: context.now().toISOString(),
      updatedBy: principal.name,
    };
    await validateExport(context, connection, next, options);
    if (await replaceExport(context, stored, next)) {
      context.log.info('export updated', { exportId, userId: principal.userId });
      return present(next, connection, stored.activeRunId);
    }
  }
  throw Errors.conflict('The export changed while it was being updated; try again');
}

/** An Admin may delete any export; a Contributor those on connections they may use. */
export async function deleteExport(context: AppContext, principal: Principal, exportId: string): Promise<void> {
  const { stored, connection } = await getVisibleExport(context, principal, exportId);
  if (!isAdmin(principal) && (!connection || !canUseConnection(principal, connection))) throw Errors.forbidden('delete this export');
  await removeExport(context, stored.export.id, `deleted by ${principal.name}`);
  context.log.info('export deleted', { exportId, userId: principal.userId });
}

/** Cancels the export's active run (no further chunk is sent), then forgets the export. */
export async function removeExport(context: AppContext, exportId: string, why: string): Promise<void> {
  const stored = await readExport(context, exportId);
  if (!stored) return;
  if (stored.activeRunId) await finishRun(context, stored.activeRunId, 'cancelled', `The export was ${why}`);
  await deleteExportRow(context, exportId);
  await deleteLedger(context, exportId);
  await deleteRunIndex(context, exportId);
}

async function usableConnection(context: AppContext, principal: Principal, connectionId: string): Promise<Connection> {
  const connection = (await readConnection(context, connectionId))?.connection;
  if (!connection || (!isAdmin(principal) && !canUseConnection(principal, connection))) {
    throw new AppError('validation_failed', 400, `The export is not valid: connectionId names no connection you may use`, {
      details: [{ path: 'connectionId', message: `no connection '${connectionId}' that you may use` }],
    });
  }
  return connection;
}

async function validateExport(context: AppContext, connection: Connection, value: Export, options: ExportCallOptions): Promise<void> {
  const problems: Problem[] = [];
  const segments: Segment[] = [];
  for (const [index, segmentId] of value.segmentIds.entries()) {
    const segment = await findSegment(context, segmentId, options);
    if (segment) segments.push(segment);
    else problems.push({ path: `segmentIds.${index}`, message: `segment '${segmentId}' does not exist` });
  }
  for (const key of MAPPING_KEYS) {
    const source = value.mapping[key];
    if (source === undefined) continue;
    for (const segment of segments) {
      if (!segment.fields.includes(source)) {
        problems.push({ path: `mapping.${key}`, message: `field '${source}' is not in segment '${segment.id}' (its fields: ${segment.fields.join(', ')})` });
      }
    }
  }
  if (connection.provider === 'brevo' && value.options.listId === undefined) {
    problems.push({ path: 'options.listId', message: 'a Brevo export needs the id of an existing list' });
  }
  if (connection.provider !== 'brevo' && value.options.listId !== undefined) {
    problems.push({ path: 'options.listId', message: `${providerDisplayName(connection.provider)} takes the list or tag from the segment's name; listId is for Brevo only` });
  }
  if (problems.length > 0) {
    throw new AppError('validation_failed', 400, `The export is not valid: ${problems[0]!.path} ${problems[0]!.message}`, { details: problems });
  }
  if (connection.provider === 'brevo' && value.options.listId !== undefined) {
    await checkBrevoList(context, connection, value.options.listId, options);
  }
}

async function checkBrevoList(context: AppContext, connection: Connection, listId: number, options: ExportCallOptions): Promise<void> {
  try {
    const adapter = adapterFor(context, await getConnectionForUse(context, connection.id, options));
    await adapter.prepareTarget({ provider: 'brevo', listId }, { abortSignal: options.abortSignal, timeoutInMs: 10_000 });
  } catch (error) {
    if (isAppError(error) && !isProviderError(error)) throw error;
    if (isProviderError(error) && error.kind === 'permanent') {
      const details = [{ path: 'options.listId', message: error.providerMessage ?? 'the list does not exist' }];
      throw withDetails(Errors.listNotFound(listId), details, error);
    }
    if (isProviderError(error) && error.kind === 'auth') throw Errors.providerAuthFailed('Brevo');
    throw new AppError(Errors.providerUnavailable.code, 502, Errors.providerUnavailable('Brevo').message, { cause: error });
  }
}

function present(value: Export, connection: Connection | undefined, activeRunId: string | undefined): ExportResource {
  return { ...value, provider: connection?.provider ?? 'unknown', ...(activeRunId ? { activeRunId } : {}) };
}
