// Removing an export: its active run is cancelled first (no further chunk is sent), then its
// row, its ledger and its run history go. A connection deleted with `force` takes its exports with
// it the same way. With `removeMembers`, a cleanup run first takes the export's members out of its
// targets, and the export is forgotten when that run succeeds.
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { exportsUsingConnection, getExport, markExportDeleting } from '../exports/repository';
import { forgetExport } from './forget';
import { finishRun } from './run-state';
import { startRun } from './runs';
import type { RunDoc } from '../domain/run';

/** Cancels the export's active run, then forgets the export (its ledger and history included). Safe to repeat. */
export async function removeExport(context: AppContext, exportId: string, why: string, options: OperationOptions = {}): Promise<void> {
  const stored = await getExport(context, exportId, options);
  if (!stored) return;
  if (stored.activeRunId) await finishRun(context, stored.activeRunId, 'cancelled', `The export was ${why}`);
  await forgetExport(context, exportId);
}

const MAX_MARK_ATTEMPTS = 5;

/**
 * Deletes an export with its members: the export is marked as being deleted, its active run is
 * cancelled, and a cleanup run takes out of every target the members this export added (never a
 * foreign one). When that run succeeds the export is forgotten; until then it stays, marked.
 */
export async function removeExportWithMembers(context: AppContext, exportId: string, requestedBy: string, why: string): Promise<RunDoc | undefined> {
  for (let attempt = 0; attempt < MAX_MARK_ATTEMPTS; attempt++) {
    const stored = await getExport(context, exportId);
    if (!stored) return undefined;
    if (stored.activeRunId) await finishRun(context, stored.activeRunId, 'cancelled', `The export was ${why}`);
    const fresh = await getExport(context, exportId);
    if (!fresh) return undefined;
    if (fresh.deleting || (await markExportDeleting(context, fresh))) {
      return await startRun(context, exportId, { trigger: 'cleanup', mode: 'delta', dryRun: false, confirmRemovals: true, requestedBy });
    }
  }
  throw new Error('The export changed repeatedly while it was being deleted; try again');
}

/** Removes every export of a connection (a forced connection delete). */
export async function removeExportsOfConnection(context: AppContext, connectionId: string, options: OperationOptions = {}): Promise<void> {
  for (const exportId of await exportsUsingConnection(context, connectionId, options)) {
    await removeExport(context, exportId, 'its connection was deleted', options);
  }
}
