// Forgetting an export: its row, its notification signing key, its ledger (every target's
// snapshots) and its run history. The
// caller has made sure no run of it is still sending (cancelled it, or it just ended).
import type { AppContext } from '../app/context';
import { deleteExportRow, getExport } from '../exports/repository';
import { deleteLedger } from './plan/ledger';
import { deleteRunIndex } from './store/runs-table';

export async function forgetExport(context: AppContext, exportId: string): Promise<void> {
  const secret = (await getExport(context, exportId))?.export.notificationSecret;
  await deleteExportRow(context, exportId);
  // The notification signing key goes with the export (a left-over one would be harmless).
  if (secret) {
    await context.secrets.deleteSecret(secret.name).catch((error: unknown) =>
      context.log.warn('could not delete the notification key of a deleted export', { exportId, error: error instanceof Error ? error : String(error) }),
    );
  }
  await deleteLedger(context, exportId);
  await deleteRunIndex(context, exportId);
}
