// The sender (one queue function per provider): delivers one chunk, one provider request at a
// time, each after a token from the shared rate governor, and carries out what the delivery
// policy (`policy.ts`) decides for each answer. When it must wait — for tokens, for a throttled
// account, for the provider's asynchronous processing, after a transient failure — it saves the
// delivery state on the chunk and re-enqueues it with that delay instead of sleeping. A chunk is
// counted on its run exactly once: run-state confirms it in a transaction only a pending chunk passes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../../app/context';
import { annotateSpan } from '../../app/telemetry';
import type { OperationOptions } from '../../app/operation';
import { chunkOperationSchema, type ChunkOperation } from '../../domain/provider';
import { isTerminal, type ChunkDoc, type ChunkMessage, type RunDoc } from '../../domain/run';
import { Errors, isAppError } from '../../errors';
import { getExport } from '../../exports/repository';
import type { DeliveryState, StepResult } from '../../providers/types';
import { getGovernor, requireProviderAccount, type ProviderAccount } from '../accounts';
import { tokenBeforeSend, TokenNotGranted } from '../pacing';
import { requeueChunk } from '../queues';
import { abortRun, failChunk, finishRun, observeEndedRun } from '../run-state';
import { readChunkPayload } from '../store/chunk-payload';
import { getChunkDoc, getRunDoc, type Versioned } from '../store/runs-table';
import { notifyUrlFor } from '../webhooks';
import { confirmDelivered } from './confirm';
import { Delivery } from './delivery';
import { reservePayloadMemory } from './memory';
import { currentRequest, moveOn, readProgress, savedState, withState, type ChunkProgress } from './bisect';
import { decideDelivery, MAX_PACING_WAIT_IN_MS, type DeliveryAction, type DeliveryOutcome } from './policy';

const INVOCATION_BUDGET_IN_MS = 20_000;
/** How stale the run's status may be before a request: a cancelled run stops within this (and a paced wait). */
const RUN_CHECK_INTERVAL_IN_MS = 250;

export interface SendChunkOptions extends OperationOptions {
  /** Called after each provider request succeeded, before anything is saved (fault tests crash here). */
  afterStep?: (step: { runId: string; chunk: number }) => void;
}

export async function sendChunk(context: AppContext, message: ChunkMessage, options: SendChunkOptions = {}): Promise<void> {
  const { runId, chunk: chunkNumber } = message;
  const { abortSignal } = options;
  const [run, chunk] = await Promise.all([getRunDoc(context, runId, { abortSignal }), getChunkDoc(context, runId, chunkNumber)]);
  if (!run || !chunk || chunk.value.status !== 'pending' || isTerminal(run.value.status)) {
    // A redelivered message of a run's last chunk: what follows the run's end may have been lost.
    if (run && chunk && chunk.value.status !== 'pending') await observeEndedRun(context, run.value);
    return;
  }
  annotateSpan(run.value);
  const account = await accountOfRun(context, run.value, chunkNumber, { abortSignal });
  if (!account) return;
  const reservation = reservePayloadMemory(context, chunk.value.bytes ?? 0);
  if (!reservation) {
    // Enough large chunks are already in memory in this process: another instance, or later.
    await requeueChunk(context, run.value.provider, message, 1_000);
    return;
  }
  try {
    await new ChunkDelivery(context, run.value, chunk, account, options).deliver();
  } finally {
    reservation.release();
  }
}

/** The run's provider account; undefined (and the run ended or aborted) when it is gone. */
async function accountOfRun(context: AppContext, run: RunDoc, chunkNumber: number, options: OperationOptions): Promise<ProviderAccount | undefined> {
  const { abortSignal } = options;
  const connectionId = run.connectionId ?? (await getExport(context, run.exportId, { abortSignal }))?.export.connectionId;
  if (!connectionId) {
    await finishRun(context, run.runId, 'cancelled', 'The export was deleted');
    return undefined;
  }
  try {
    return await requireProviderAccount(context, connectionId, { abortSignal });
  } catch (error) {
    if (!isAppError(error, Errors.notFound)) throw error;
    await abortRun(context, run.runId, `The export's connection '${connectionId}' no longer exists`);
    await failChunk(context, run.runId, chunkNumber, 'The connection no longer exists');
    return undefined;
  }
}

/** One invocation's delivery of a chunk: requests until the chunk is done or must wait. */
class ChunkDelivery {
  private readonly delivery: Delivery;
  private readonly deadline = Date.now() + INVOCATION_BUDGET_IN_MS;
  /** The run was read just before this; it is read again before a request once it is this old. */
  private runCheckedAt = performance.now();

  constructor(
    private readonly context: AppContext,
    private readonly run: RunDoc,
    private readonly chunk: Versioned<ChunkDoc>,
    private readonly account: ProviderAccount,
    private readonly options: SendChunkOptions,
  ) {
    this.delivery = new Delivery(context, run, chunk);
  }

  async deliver(): Promise<void> {
    const operation = chunkOperationSchema.parse(await readChunkPayload(this.context, this.run.runId, this.chunk.value));
    const { adapter } = this.account;
    let progress = readProgress(this.chunk.value.state, operation, adapter);
    for (;;) {
      const request = currentRequest(operation, progress);
      const outcome = await this.attempt(request, savedState(progress));
      if (outcome === 'stopped') return;
      const action = decideDelivery(outcome.outcome, { random: Math.random });
      if (outcome.result?.kind === 'next') progress = withState(progress, outcome.result.state);
      const move = moveOn(action, operation, progress, outcome.result?.kind === 'done' ? outcome.result.rejects : [], adapter);
      if (move?.kind === 'confirm') return await confirmDelivered(this.context, this.run.runId, this.chunk.value, operation, move.rejects);
      if (move?.kind === 'fail-chunk') return await failChunk(this.context, this.run.runId, this.chunk.value.chunk, move.reason);
      if (move?.kind === 'progress') {
        progress = move.progress;
        if (!(await this.keepSplit(progress))) return;
        continue;
      }
      // moveOn answers every confirm, bisect and reject-record.
      if (action.kind === 'confirm' || action.kind === 'bisect' || action.kind === 'reject-record') throw new Error(`The split did not handle '${action.kind}'`);
      if (action.kind !== 'continue') return await this.act(action, savedState(progress), outcome);
      if (action.waitMs > 0) await sleep(action.waitMs);
    }
  }

  /**
   * Saves a split as soon as it changes, so a crash or a redelivery goes on from it; past the
   * invocation budget the chunk goes back to its queue instead. False: stop here.
   */
  private async keepSplit(progress: ChunkProgress): Promise<boolean> {
    this.context.log.info('bisecting a refused chunk', { runId: this.run.runId, chunk: this.chunk.value.chunk, ...describeSplit(progress) });
    if (Date.now() > this.deadline) {
      await this.delivery.later(savedState(progress), 0);
      return false;
    }
    return await this.delivery.save(savedState(progress));
  }

  /**
   * Everything before the request happens before the token (taken by `beforeSend` once the body is
   * built), so the governor's grant is used at once. Without a token the chunk goes back to its
   * queue with `progress`, the whole chunk's (a split's too), not only the state of the part sent.
   */
  private async attempt(
    request: { operation: ChunkOperation; state: DeliveryState; records: number },
    progress: DeliveryState,
  ): Promise<{ outcome: DeliveryOutcome; result?: StepResult; error?: unknown } | 'stopped'> {
    const { context, run, account, options } = this;
    const { operation, state, records } = request;
    if (!(await this.stillWanted())) return 'stopped';
    const notifyUrl = await notifyUrlFor(context, run.runId, this.chunk.value, state);
    const governor = getGovernor(context);
    const hooks = tokenBeforeSend(governor, account.governorAccount, account.adapter.nextBucket(operation, state), {
      maxPacedWaitMs: MAX_PACING_WAIT_IN_MS,
      deadlineMs: this.deadline,
      // Asked after every short wait for a slot: the run is read at most every 250 ms, so that
      // waiting senders do not spend the moment their slot comes on reading it.
      stillWanted: () => this.stillWanted(),
      abortSignal: options.abortSignal,
    });
    try {
      const result = await account.adapter.step(operation, state, {
        abortSignal: options.abortSignal,
        notifyUrl,
        ...hooks,
        onRateSignal: (signal) => void governor.observe(account.governorAccount, signal).catch(() => undefined),
      });
      this.delivery.stepped();
      options.afterStep?.({ runId: run.runId, chunk: this.chunk.value.chunk });
      const pastDeadline = Date.now() > this.deadline;
      return { outcome: result.kind === 'done' ? { kind: 'done' } : { kind: 'next', notBeforeMs: result.notBeforeMs, pastDeadline }, result };
    } catch (error) {
      if (error instanceof TokenNotGranted) {
        if (error.wait !== 'stop') await this.delivery.later(progress, error.wait);
        return 'stopped';
      }
      return { outcome: { kind: 'failed', error, transientAttempts: this.delivery.transientAttempts, records }, error };
    }
  }

  /** The run may have been cancelled (or its key refused) meanwhile: checked at most every 250 ms. */
  private async stillWanted(): Promise<boolean> {
    if (performance.now() - this.runCheckedAt <= RUN_CHECK_INTERVAL_IN_MS) return true;
    const stop = await reasonToStop(this.context, this.run.runId, { abortSignal: this.options.abortSignal });
    if (stop) {
      if (stop.abortReason) await failChunk(this.context, this.run.runId, this.chunk.value.chunk, stop.abortReason);
      return false;
    }
    this.runCheckedAt = performance.now();
    return true;
  }

  private async act(action: Exclude<DeliveryAction, { kind: 'continue' | 'confirm' | 'bisect' | 'reject-record' }>, state: DeliveryState, attempt: { error?: unknown }): Promise<void> {
    const { context, run, account } = this;
    const chunkNumber = this.chunk.value.chunk;
    switch (action.kind) {
      case 'requeue':
        if (action.lastError) context.log.info('transient provider failure, retrying later', { runId: run.runId, chunk: chunkNumber, attempts: action.transientAttempts, error: action.lastError });
        return await this.delivery.later(state, action.delayMs, { lastError: action.lastError, transientAttempts: action.transientAttempts });
      case 'throttled':
        await getGovernor(context).pause(account.governorAccount, Date.now() + action.pauseMs, { escalate: action.escalate });
        context.log.info('throttled by the provider', { provider: account.adapter.provider, retryAfterMs: action.pauseMs });
        return await this.delivery.later(state, action.pauseMs);
      case 'abort-run':
        await abortRun(context, run.runId, action.reason);
        return await failChunk(context, run.runId, chunkNumber, action.reason);
      case 'fail-chunk':
        return await failChunk(context, run.runId, chunkNumber, action.reason);
      case 'rethrow':
        await this.delivery.recordError(attempt.error);
        throw attempt.error;
    }
  }
}

function describeSplit(progress: ChunkProgress): Record<string, unknown> {
  if (progress.kind === 'whole') return {};
  const { range, pending, rejected } = progress.bisect;
  return { range: `${range[0]}-${range[1]}`, pendingParts: pending.length, rejectedSoFar: rejected.length };
}

/** Why this chunk must not go on: its run ended, or the provider refused the key. */
async function reasonToStop(context: AppContext, runId: string, options: OperationOptions): Promise<{ abortReason?: string } | undefined> {
  const run = await getRunDoc(context, runId, options);
  if (!run || isTerminal(run.value.status)) return {};
  if (run.value.abortReason) return { abortReason: run.value.abortReason };
  return undefined;
}
