// Removing an export: its active run is cancelled first (no further chunk is sent), then its
// ledger, its run history and finally its row go. A connection deleted with `force` takes its
// exports with it the same way.
import type { AppContext } from '../app/context';
import { deleteExportRow, exportsUsingConnection, getExport } from '../exports/repository';
import { deleteLedger } from './plan/ledger';
import { finishRun } from './run-state';
import { deleteRunIndex } from './store/runs-table';

/** Cancels the export's active run, then forgets the export (its ledger and history included). Safe to repeat. */
export async function removeExport(context: AppContext, exportId: string, why: string): Promise<void> {
  const stored = await getExport(context, exportId);
  if (!stored) return;
  if (stored.activeRunId) await finishRun(context, stored.activeRunId, 'cancelled', `The export was ${why}`);
  await deleteExportRow(context, exportId);
  await deleteLedger(context, exportId);
  await deleteRunIndex(context, exportId);
}

/** Removes every export of a connection (a forced connection delete). */
export async function removeExportsOfConnection(context: AppContext, connectionId: string): Promise<void> {
  for (const exportId of await exportsUsingConnection(context, connectionId)) {
    await removeExport(context, exportId, 'its connection was deleted');
  }
}
