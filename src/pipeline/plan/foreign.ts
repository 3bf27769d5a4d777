// Before the first add into a target, the members it already holds are read from the provider:
// they are `foreign` to this export, which never removes them and never counts them as its adds.
import type { AppContext } from '../../app/context';
import type { Target } from '../../domain/provider';
import type { ProviderAccount } from '../accounts';
import { getGovernor } from '../accounts';
import { takePaced } from '../pacing';
import { hashEmail } from '../../hashing/hash';
import { HashIndex } from '../../hashing/hash-index';

export interface ForeignMembers {
  index: HashIndex;
  /** Their emails, to record them in the ledger (those not in any segment too). */
  emails: string[];
}

export async function readForeignMembers(context: AppContext, account: ProviderAccount, target: Target, abortSignal?: AbortSignal): Promise<ForeignMembers> {
  const { adapter, governorAccount } = account;
  const index = new HashIndex(1024);
  const emails: string[] = [];
  if (!adapter.readTargetMembers || !adapter.membersBucket) return { index, emails };
  let cursor: string | undefined;
  do {
    await takePaced(getGovernor(context), governorAccount, adapter.membersBucket, { maxPacedWaitMs: Number.POSITIVE_INFINITY, abortSignal });
    const page = await adapter.readTargetMembers(target, cursor, { abortSignal });
    for (const raw of page.emails) {
      const email = raw.trim().toLowerCase();
      const key = hashEmail(email);
      if (index.find(key) >= 0) continue;
      index.set(key, 0);
      emails.push(email);
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return { index, emails };
}
