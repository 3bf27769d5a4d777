// Refunds: the tokens of grants that were never used (their table write came too late) are given
// back, since on a slow counter, say 60 a minute, every lost token would otherwise be missing for a
// whole window.
import { conflictBackoff, type GovernorTable } from './state';
import { unrecord, type Entry, type WindowCounter } from './window';

export interface UnusedGrant {
  counters: readonly WindowCounter[];
  atMs: number;
  tokens: number;
}

const REFUND_ATTEMPTS = 3;

/** Best effort: after a few conflicts the tokens stay counted, which only costs capacity. */
export async function refundGrants(table: GovernorTable, connectionId: string, grants: readonly UnusedGrant[]): Promise<void> {
  for (let attempt = 0; attempt < REFUND_ATTEMPTS; attempt += 1) {
    const row = await table.read(connectionId);
    const counters: Record<string, Entry[]> = { ...row.state.counters };
    for (const grant of grants) {
      for (const counter of grant.counters) {
        counters[counter.name] = unrecord(counters[counter.name] ?? [], grant.atMs, counter.sliceMs, grant.tokens);
      }
    }
    if (await table.write(connectionId, { ...row.state, counters }, row.etag)) return;
    await conflictBackoff();
  }
}
