// What an erasure does at one destination target, through the provider account and the shared
// rate governor like every other request: take the person out of the list or tag (a removal chunk
// of one, as a run would send it: never a global unsubscribe), or, with `deleteAtProvider`, call
// the provider's documented delete once per provider account.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../../app/context';
import type { ChunkOperation, Target } from '../../domain/provider';
import type { ErasureTargetStatus } from '../../domain/privacy';
import { isProviderErrorKind } from '../../providers/errors';
import { getGovernor, type ProviderAccount } from '../accounts';
import { takePaced } from '../pacing';

const MAX_PACED_WAIT_IN_MS = 10_000;
const MAX_STEPS = 20;
const MAX_STEP_WAIT_IN_MS = 5_000;

export interface TargetOutcome {
  status: ErasureTargetStatus;
  detail?: string;
  /** Worth another pass later (throttled, a transient failure). */
  retry: boolean;
}

class WaitLonger extends Error {}

async function token(context: AppContext, account: ProviderAccount, bucket: string): Promise<void> {
  const grant = await takePaced(getGovernor(context), account.governorAccount, bucket, { maxPacedWaitMs: MAX_PACED_WAIT_IN_MS });
  if (grant === 'stop' || !grant.granted) throw new WaitLonger('the provider account is busy; trying again later');
}

/** Takes `email` out of `target` (the list or tag only). */
export async function removeFromTarget(context: AppContext, account: ProviderAccount, target: Target, email: string): Promise<TargetOutcome> {
  const { adapter } = account;
  const operation: ChunkOperation = { kind: 'remove', target, emails: [email] };
  return await guarded(async () => {
    let state = adapter.start(operation);
    for (let step = 0; step < MAX_STEPS; step++) {
      await token(context, account, adapter.nextBucket(operation, state));
      const result = await adapter.step(operation, state);
      if (result.kind === 'done') {
        return { status: 'removed', retry: false, ...(result.rejects.length > 0 ? { detail: 'the provider no longer held them there' } : {}) };
      }
      state = result.state;
      await sleep(Math.min(result.notBeforeMs ?? 0, MAX_STEP_WAIT_IN_MS));
    }
    return { status: 'pending', retry: true, detail: 'the provider is still processing the removal' };
  });
}

/** The provider's delete of the contact (once per account); undefined where the provider documents none. */
export async function deleteAtProvider(context: AppContext, account: ProviderAccount, email: string): Promise<TargetOutcome | undefined> {
  const { adapter } = account;
  if (!adapter.deleteContact || !adapter.deleteBucket) return undefined;
  const bucket = adapter.deleteBucket;
  const deleteContact = adapter.deleteContact.bind(adapter);
  return await guarded(async () => {
    await token(context, account, bucket);
    const answer = await deleteContact(email);
    return { status: 'deleted', retry: false, ...(answer === 'absent' ? { detail: 'the provider no longer had the contact' } : {}) };
  });
}

async function guarded(work: () => Promise<TargetOutcome>): Promise<TargetOutcome> {
  try {
    return await work();
  } catch (error) {
    const detail = (error instanceof Error ? error.message : String(error)).slice(0, 300);
    if (error instanceof WaitLonger || isProviderErrorKind(error, 'throttled') || isProviderErrorKind(error, 'transient')) return { status: 'pending', retry: true, detail };
    return { status: 'failed', retry: false, detail };
  }
}
