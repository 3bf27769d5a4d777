import type { AppContext } from '../app/context';
import { listExports } from '../exports/repository';
import { removeExport } from '../exports/service';

/**
 * Which exports use a connection or a segment: connections and segments may not be deleted while
 * an export uses them (unless forced).
 */
export async function exportsUsingConnection(context: AppContext, connectionId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const stored of listExports(context)) if (stored.export.connectionId === connectionId) ids.push(stored.export.id);
  return ids;
}

export async function exportsUsingSegment(context: AppContext, segmentId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const stored of listExports(context)) if (stored.export.segmentIds.includes(segmentId)) ids.push(stored.export.id);
  return ids;
}

/** A forced connection delete takes its exports with it (their active runs are cancelled). */
export async function deleteExportsOfConnection(context: AppContext, connectionId: string): Promise<void> {
  for (const exportId of await exportsUsingConnection(context, connectionId)) {
    await removeExport(context, exportId, 'its connection was deleted');
  }
}
