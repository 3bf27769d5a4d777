// The exports table: one row per export, with the per-export run slot (`activeRunId`) beside the
// document so that claiming the slot is one conditional write. Also answers which exports use a
// connection or a segment.
import { odata, type TableClient } from '@azure/data-tables';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { exportSchema, type Export } from '../domain/export';
import { deleteEntity, getEntity, isPreconditionFailed, replaceEntityIfUnchanged } from '../storage/tables';
import { EXPORTS_PARTITION, exportRowSchema } from './table';

export interface StoredExport {
  export: Export;
  activeRunId: string | undefined;
  activeRunSince: string | undefined;
  /** Deleted with `removeMembers`: hidden, its cleanup run under way; forgotten when that run succeeds. */
  deleting: boolean;
  etag: string;
}

export function exportsTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.exports);
}

function fromEntity(entity: unknown): StoredExport {
  const row = exportRowSchema.parse(entity);
  return {
    export: exportSchema.parse(JSON.parse(row.doc)),
    activeRunId: row.activeRunId || undefined,
    activeRunSince: row.activeRunSince || undefined,
    deleting: row.deleting === true,
    etag: row.etag ?? '*',
  };
}

function toEntity(value: Export, activeRunId: string | undefined, activeRunSince: string | undefined, deleting = false) {
  const parsed = exportSchema.parse(value);
  return {
    partitionKey: EXPORTS_PARTITION,
    rowKey: parsed.id,
    connectionId: parsed.connectionId,
    segmentIds: JSON.stringify(parsed.segmentIds),
    doc: JSON.stringify(parsed),
    activeRunId: activeRunId ?? '',
    activeRunSince: activeRunSince ?? '',
    deleting,
  };
}

/** The export with its run slot and ETag, or undefined when it does not exist. */
export async function getExport(context: AppContext, exportId: string, options: OperationOptions = {}): Promise<StoredExport | undefined> {
  const entity = await getEntity(exportsTable(context), EXPORTS_PARTITION, exportId, exportRowSchema, options);
  return entity && fromEntity(entity);
}

/** Creates the row, with a free run slot (export ids are random: the table refuses a duplicate). */
export async function createExportRow(context: AppContext, value: Export, options: OperationOptions = {}): Promise<void> {
  await exportsTable(context).createEntity(toEntity(value, undefined, undefined), { abortSignal: options.abortSignal });
}

/** Replaces the export document under its ETag; false when it changed meanwhile. */
export async function replaceExportRow(context: AppContext, stored: StoredExport, value: Export, options: OperationOptions = {}): Promise<boolean> {
  try {
    await exportsTable(context).updateEntity(toEntity(value, stored.activeRunId, stored.activeRunSince, stored.deleting), 'Replace', {
      etag: stored.etag,
      abortSignal: options.abortSignal,
    });
    return true;
  } catch (error) {
    if (isPreconditionFailed(error)) return false;
    throw error;
  }
}

/** Sets or clears the export's active run under its ETag; false when the row changed (or went) meanwhile. */
export async function replaceActiveRun(
  context: AppContext,
  stored: StoredExport,
  runId: string | undefined,
  since: Date,
  options: OperationOptions = {},
): Promise<boolean> {
  const entity = { partitionKey: EXPORTS_PARTITION, rowKey: stored.export.id, activeRunId: runId ?? '', activeRunSince: runId ? since.toISOString() : '' };
  return (await replaceEntityIfUnchanged(exportsTable(context), entity, stored.etag, { ...options, mode: 'Merge' })) !== undefined;
}

/** Marks the export as being deleted with its members, under its ETag; false when it changed meanwhile. */
export async function markExportDeleting(context: AppContext, stored: StoredExport): Promise<boolean> {
  const entity = { partitionKey: EXPORTS_PARTITION, rowKey: stored.export.id, deleting: true };
  return (await replaceEntityIfUnchanged(exportsTable(context), entity, stored.etag, { mode: 'Merge' })) !== undefined;
}

/** Deletes the row; succeeds when it is already gone. */
export async function deleteExportRow(context: AppContext, exportId: string, options: OperationOptions = {}): Promise<void> {
  await deleteEntity(exportsTable(context), EXPORTS_PARTITION, exportId, options);
}

/** Every export, in id order. */
export async function* listExports(context: AppContext, options: OperationOptions = {}): AsyncGenerator<StoredExport> {
  const entities = exportsTable(context).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${EXPORTS_PARTITION}` }, abortSignal: options.abortSignal });
  for await (const entity of entities) yield fromEntity(entity);
}

/** The ids of the exports that use a connection. */
export async function exportsUsingConnection(context: AppContext, connectionId: string, options: OperationOptions = {}): Promise<string[]> {
  const ids: string[] = [];
  for await (const stored of listExports(context, options)) if (stored.export.connectionId === connectionId) ids.push(stored.export.id);
  return ids;
}

/** The exports that use a segment. */
export async function exportsUsingSegment(context: AppContext, segmentId: string, options: OperationOptions = {}): Promise<StoredExport[]> {
  const found: StoredExport[] = [];
  for await (const stored of listExports(context, options)) if (stored.export.segmentIds.includes(segmentId)) found.push(stored);
  return found;
}
