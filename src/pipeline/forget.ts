// Forgetting an export: its row, its ledger (every target's snapshots) and its run history. The
// caller has made sure no run of it is still sending (cancelled it, or it just ended).
import type { AppContext } from '../app/context';
import { deleteExportRow } from '../exports/repository';
import { deleteLedger } from './plan/ledger';
import { deleteRunIndex } from './store/runs-table';

export async function forgetExport(context: AppContext, exportId: string): Promise<void> {
  await deleteExportRow(context, exportId);
  await deleteLedger(context, exportId);
  await deleteRunIndex(context, exportId);
}
