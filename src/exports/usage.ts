import type { AppContext } from '../app/context';
import { exportRowSchema, EXPORTS_PARTITION } from './table';

/**
 * Which exports use a connection or a segment: connections and segments may not be deleted while
 * an export uses them (unless forced).
 */
export async function exportsUsingConnection(context: AppContext, connectionId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const row of listExportRows(context)) if (row.connectionId === connectionId) ids.push(row.rowKey);
  return ids;
}

export async function exportsUsingSegment(context: AppContext, segmentId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const row of listExportRows(context)) {
    if ((JSON.parse(row.segmentIds) as string[]).includes(segmentId)) ids.push(row.rowKey);
  }
  return ids;
}

async function* listExportRows(context: AppContext) {
  const table = context.storage.table(context.storage.names.tables.exports);
  const entities = table.listEntities({ queryOptions: { filter: `PartitionKey eq '${EXPORTS_PARTITION}'` } });
  for await (const entity of entities) yield exportRowSchema.parse(entity);
}
