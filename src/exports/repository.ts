import { odata, type TableClient } from '@azure/data-tables';
import type { AppContext } from '../app/context';
import { exportSchema, type Export } from '../domain/export';
import { isStatus } from '../pipeline/store/runs-table';
import { EXPORTS_PARTITION, exportRowSchema } from './table';

export interface StoredExport {
  export: Export;
  activeRunId: string | undefined;
  activeRunSince: string | undefined;
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
    etag: row.etag ?? '*',
  };
}

function toEntity(value: Export, activeRunId: string | undefined, activeRunSince: string | undefined) {
  const parsed = exportSchema.parse(value);
  return {
    partitionKey: EXPORTS_PARTITION,
    rowKey: parsed.id,
    connectionId: parsed.connectionId,
    segmentIds: JSON.stringify(parsed.segmentIds),
    doc: JSON.stringify(parsed),
    activeRunId: activeRunId ?? '',
    activeRunSince: activeRunSince ?? '',
  };
}

export async function readExport(context: AppContext, exportId: string, abortSignal?: AbortSignal): Promise<StoredExport | undefined> {
  try {
    return fromEntity(await exportsTable(context).getEntity(EXPORTS_PARTITION, exportId, { abortSignal }));
  } catch (error) {
    if (isStatus(error, 404)) return undefined;
    throw error;
  }
}

export async function insertExport(context: AppContext, value: Export): Promise<void> {
  await exportsTable(context).createEntity(toEntity(value, undefined, undefined));
}

/** Replaces the export document under its ETag; false when it changed meanwhile. */
export async function replaceExport(context: AppContext, stored: StoredExport, value: Export): Promise<boolean> {
  try {
    await exportsTable(context).updateEntity(toEntity(value, stored.activeRunId, stored.activeRunSince), 'Replace', { etag: stored.etag });
    return true;
  } catch (error) {
    if (isStatus(error, 412)) return false;
    throw error;
  }
}

/** Sets or clears the export's active run under its ETag; false when the row changed meanwhile. */
export async function setActiveRun(context: AppContext, stored: StoredExport, runId: string | undefined, since: Date): Promise<boolean> {
  try {
    await exportsTable(context).updateEntity(
      { partitionKey: EXPORTS_PARTITION, rowKey: stored.export.id, activeRunId: runId ?? '', activeRunSince: runId ? since.toISOString() : '' },
      'Merge',
      { etag: stored.etag },
    );
    return true;
  } catch (error) {
    if (isStatus(error, 412, 404)) return false;
    throw error;
  }
}

export async function deleteExportRow(context: AppContext, exportId: string): Promise<void> {
  try {
    await exportsTable(context).deleteEntity(EXPORTS_PARTITION, exportId);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
}

export async function* listExports(context: AppContext, abortSignal?: AbortSignal): AsyncGenerator<StoredExport> {
  const entities = exportsTable(context).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${EXPORTS_PARTITION}` }, abortSignal });
  for await (const entity of entities) yield fromEntity(entity);
}
