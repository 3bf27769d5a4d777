import { setTimeout as sleep } from 'node:timers/promises';
import {
  isProviderErrorKind,
  type ChunkOperation,
  type DeliveryState,
  type GovernorAccount,
  type ProviderAdapter,
  type RateGovernor,
  type RecordReject,
  type StepOptions,
} from '../../../src/providers';
import { tokenBeforeSend, TokenNotGranted } from '../../../src/pipeline/pacing';

/**
 * What the export pipeline does with one chunk, in miniature: draw a token from the governor's
 * bucket once the request is ready (`beforeSend`), perform one step, keep the state, wait when told (here by sleeping, where the pipeline
 * re-enqueues), and pause the whole account on a 429.
 */
export interface DeliveryStats {
  steps: number;
  throttled: number;
  waits: number;
}

export async function deliver(
  adapter: ProviderAdapter,
  governor: RateGovernor,
  account: GovernorAccount,
  operation: ChunkOperation,
  options: StepOptions & { onPause?: (pause: { atMs: number; untilMs: number }) => void; stats?: DeliveryStats } = {},
): Promise<RecordReject[]> {
  const { onPause, stats, ...stepOptions } = options;
  let state: DeliveryState = adapter.start(operation);
  for (;;) {
    const bucket = adapter.nextBucket(operation, state);
    // As the pipeline's sender: the step's one token is taken once its first request is ready, and
    // the governor is told when it went. No wait is spent in place: a denial is slept here.
    const hooks = tokenBeforeSend(governor, account, bucket, { maxPacedWaitMs: 0 });
    try {
      if (stats) stats.steps += 1;
      const result = await adapter.step(operation, state, {
        ...stepOptions,
        ...hooks,
        onRateSignal: (signal) => void governor.observe(account, signal),
      });
      if (result.kind === 'done') return result.rejects;
      state = result.state;
      if (result.notBeforeMs) await sleep(result.notBeforeMs);
    } catch (error) {
      if (error instanceof TokenNotGranted && error.wait !== 'stop') {
        if (stats) {
          stats.steps -= 1;
          stats.waits += 1;
        }
        await sleep(error.wait);
        continue;
      }
      if (!isProviderErrorKind(error, 'throttled')) throw error;
      if (stats) stats.throttled += 1;
      const untilMs = await governor.pause(account, Date.now() + error.retryAfterMs, { escalate: error.retryAfterSource === 'default' });
      onPause?.({ atMs: Date.now(), untilMs });
    }
  }
}
