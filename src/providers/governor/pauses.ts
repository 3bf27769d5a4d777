// Pauses: a 429 pauses every worker of the account (`pause`), escalating a default wait that keeps
// meeting 429s; a provider's rate headers saying a window is exhausted pause just that bucket until
// it resets (`observe`). Both live in the account's row, so every instance honours them; this
// instance also remembers the pauses it recorded, so that it stops handing out leased tokens and
// slots it reserved before the pause.
import type { Logger } from '../../log';
import type { RateSignal } from '../types';
import { conflictBackoff, MAX_CONFLICT_RETRIES, type AccountPause, type GovernorState, type GovernorTable } from './state';
import type { GovernorAccount, ObserveOptions, PauseOptions } from './types';

const NO_PAUSE: AccountPause = { untilMs: 0, durationMs: 0, streak: 0 };

/** Until when a request of `bucket` must wait: the account's pause or the bucket's, whichever ends later. */
export function pausedUntil(state: GovernorState, bucket: string): number {
  return Math.max(state.pause?.untilMs ?? 0, state.bucketPausedUntilMs?.[bucket] ?? 0);
}

/**
 * The pause to record when asked to pause until `untilMs` at `nowMs`; `previous` itself when the
 * pause in force already covers it (never shortened). An escalating pause asked soon after the
 * previous one ended doubles that one's duration, up to `maxEscalatedPauseMs`.
 */
export function nextPause(previous: AccountPause, untilMs: number, nowMs: number, escalate: boolean, maxEscalatedPauseMs: number): AccountPause {
  let pause: AccountPause = { untilMs: Math.max(untilMs, nowMs), durationMs: Math.max(untilMs - nowMs, 0), streak: 0 };
  if (escalate && nowMs < previous.untilMs) {
    // Another worker's request of the same burst: the pause in force already covers it.
    pause = previous;
  } else if (escalate && nowMs - previous.untilMs < Math.max(previous.durationMs, 1)) {
    const durationMs = Math.min(Math.max(previous.durationMs * 2, untilMs - nowMs), maxEscalatedPauseMs);
    pause = { untilMs: nowMs + durationMs, durationMs, streak: previous.streak + 1 };
  }
  return pause.untilMs < previous.untilMs ? previous : pause;
}

export interface PauseContext {
  table: GovernorTable;
  maxEscalatedPauseMs: number;
  now: () => number;
  log: Logger | undefined;
}

/** Records the account's pause in its row; answers when the pause ends. */
export async function recordPause(context: PauseContext, account: GovernorAccount, untilMs: number, options: PauseOptions): Promise<number> {
  for (let conflicts = 0; conflicts < MAX_CONFLICT_RETRIES; conflicts += 1) {
    options.abortSignal?.throwIfAborted();
    const row = await context.table.read(account.connectionId, { abortSignal: options.abortSignal });
    const nowMs = context.now();
    const previous = row.state.pause ?? NO_PAUSE;
    const pause = nextPause(previous, untilMs, nowMs, options.escalate === true, context.maxEscalatedPauseMs);
    if (pause === previous || (await context.table.write(account.connectionId, { ...row.state, pause }, row.etag, { abortSignal: options.abortSignal }))) {
      context.log?.info('Provider account paused', {
        provider: account.provider,
        connectionId: account.connectionId,
        pauseMs: Math.max(0, pause.untilMs - nowMs),
        streak: pause.streak,
      });
      return pause.untilMs;
    }
    await conflictBackoff();
  }
  throw new Error('The rate governor could not record a pause: too much contention');
}

/** Pauses the signal's bucket until its window resets when the provider says it is exhausted. */
export async function recordBucketPause(context: PauseContext, account: GovernorAccount, signal: RateSignal, options: ObserveOptions): Promise<void> {
  if (signal.remaining === undefined || signal.remaining > 0 || !signal.resetInMs) return;
  const untilMs = context.now() + signal.resetInMs;
  for (let conflicts = 0; conflicts < MAX_CONFLICT_RETRIES; conflicts += 1) {
    const row = await context.table.read(account.connectionId, options);
    if ((row.state.bucketPausedUntilMs?.[signal.bucket] ?? 0) >= untilMs) return;
    const next: GovernorState = {
      ...row.state,
      bucketPausedUntilMs: { ...row.state.bucketPausedUntilMs, [signal.bucket]: untilMs },
    };
    if (await context.table.write(account.connectionId, next, row.etag, options)) return;
    await conflictBackoff();
  }
}

/** The account pauses this instance recorded, by connection id. */
export class KnownPauses {
  private readonly untilMs = new Map<string, number>();

  set(connectionId: string, untilMs: number): void {
    this.untilMs.set(connectionId, untilMs);
  }

  /** When the last pause this instance recorded for the account ends (0: none). */
  until(connectionId: string): number {
    return this.untilMs.get(connectionId) ?? 0;
  }
}
