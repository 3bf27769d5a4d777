// One pacing policy for the planner and the senders: take a governor token, and when the governor
// says "wait", wait in place only if the wait is short (the planner, which runs long anyway,
// always waits; a sender waits at most `maxPacedWaitMs`, since queue delays are whole seconds) and
// still inside the caller's deadline; otherwise hand the wait back so the caller can re-enqueue.
// Also the planner's courtesy to the event loop: without a pause every few milliseconds it would
// hold the loop for seconds and the senders of this process would miss their rate slots.
import { setTimeout as sleep } from 'node:timers/promises';
import type { OperationOptions } from '../app/operation';
import { recordGovernorWait } from '../app/telemetry';
import type { GovernorAccount, RateGovernor, TakeResult } from '../providers/governor';

export interface TakePacedOptions extends OperationOptions {
  /** Tokens at once (default 1). */
  count?: number;
  /** The longest governor wait spent in place; a longer one is answered. */
  maxPacedWaitMs: number;
  /** A wait that would end after this time (epoch ms) is answered rather than spent. */
  deadlineMs?: number;
  /** Asked after each wait spent in place: false stops (the run ended meanwhile). */
  stillWanted?: () => Promise<boolean>;
  /** The grant carries `used`, to call once the request went (see the governor's `TakeOptions`). */
  reportUse?: boolean;
}

/**
 * A token of `bucket`, waiting in place for short waits. Answers the grant, a wait too long to
 * spend here (`{ granted: false, waitMs }`), or `'stop'` when `stillWanted` said so.
 */
export async function takePaced(governor: RateGovernor, account: GovernorAccount, bucket: string, options: TakePacedOptions): Promise<TakeResult | 'stop'> {
  const { count, abortSignal, reportUse } = options;
  const started = performance.now();
  for (;;) {
    const grant = await governor.take(account, bucket, { count, abortSignal, reportUse });
    if (grant.granted) recordGovernorWait(performance.now() - started, { provider: account.provider });
    if (grant.granted || grant.waitMs > options.maxPacedWaitMs) return grant;
    if (options.deadlineMs !== undefined && Date.now() + grant.waitMs > options.deadlineMs) return grant;
    await sleep(grant.waitMs, undefined, { signal: abortSignal });
    if (options.stillWanted && !(await options.stillWanted())) return 'stop';
  }
}

/**
 * Thrown by a `beforeSend` hook (see `tokenBeforeSend`) to stop a request unsent: no token now
 * (`wait`: how long to wait before asking again), or `stop` when the caller is no longer wanted.
 */
export class TokenNotGranted extends Error {
  constructor(readonly wait: number | 'stop') {
    super(wait === 'stop' ? 'The request is no longer wanted' : `No rate token for ${wait} ms`);
  }
}

/** A provider call's hooks around its request (see `ProviderCallOptions`). */
export interface SendHooks {
  beforeSend: () => Promise<void>;
  afterSend: () => void;
}

/**
 * Hooks that take the token once the request is ready, so that everything before the request
 * (building and serialising its body) happens before the grant and the slot is used at once, and
 * tell the governor when the request went. One token per step, as the step's bucket says: a step's
 * later requests (report files, a batch's items) take none.
 */
export function tokenBeforeSend(governor: RateGovernor, account: GovernorAccount, bucket: string, options: TakePacedOptions): SendHooks {
  let taken = false;
  let used: (() => void) | undefined;
  return {
    beforeSend: async () => {
      if (taken) return;
      taken = true;
      const grant = await takePaced(governor, account, bucket, { ...options, reportUse: true });
      if (grant === 'stop') throw new TokenNotGranted('stop');
      if (!grant.granted) throw new TokenNotGranted(grant.waitMs);
      used = grant.used;
    },
    afterSend: () => {
      used?.();
      used = undefined;
    },
  };
}

/** Lets other work run once every `sliceMs` of the caller's busy loop. */
export class EventLoopPace {
  private last = performance.now();

  constructor(private readonly sliceMs = 5) {}

  async yield(): Promise<void> {
    if (performance.now() - this.last < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}
