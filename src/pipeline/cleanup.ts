// Removing an export: its active run is cancelled first (no further chunk is sent), then its
// row, its ledger and its run history go. A connection deleted with `force` takes its exports
// with it the same way.
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { deleteExportRow, exportsUsingConnection, getExport } from '../exports/repository';
import { deleteLedger } from './plan/ledger';
import { finishRun } from './run-state';
import { deleteRunIndex } from './store/runs-table';

/** Cancels the export's active run, then forgets the export (its ledger and history included). Safe to repeat. */
export async function removeExport(context: AppContext, exportId: string, why: string, options: OperationOptions = {}): Promise<void> {
  const stored = await getExport(context, exportId, options);
  if (!stored) return;
  if (stored.activeRunId) await finishRun(context, stored.activeRunId, 'cancelled', `The export was ${why}`);
  await deleteExportRow(context, exportId, options);
  await deleteLedger(context, exportId, options);
  await deleteRunIndex(context, exportId, options);
}

/** Removes every export of a connection (a forced connection delete). */
export async function removeExportsOfConnection(context: AppContext, connectionId: string, options: OperationOptions = {}): Promise<void> {
  for (const exportId of await exportsUsingConnection(context, connectionId, options)) {
    await removeExport(context, exportId, 'its connection was deleted', options);
  }
}
