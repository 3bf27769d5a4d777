import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../../app/context';
import { isTerminal, type ChunkDoc, type ChunkMessage, type RunDoc } from '../../domain/run';
import { isAppError, Errors } from '../../errors';
import { readExport } from '../../exports/repository';
import { isProviderErrorKind } from '../../providers/errors';
import type { GovernorAccount, RateGovernor, TakeResult } from '../../providers/governor';
import { chunkOperationSchema, type ChunkOperation, type DeliveryState, type ProviderAdapter, type RecordReject } from '../../providers/types';
import { sendMessage } from '../../storage/queue-messages';
import { readChunkPayload } from '../store/chunk-payload';
import { finishRun, releaseRun, settleIfComplete } from '../run-state';
import { adapterFor, chunkQueueName, connectionForUse, governorAccount, governorFor, notifyUrlFor } from '../accounts';
import { chunkRejectKey, writeRejects, type RejectOp } from '../store/rejects';
import { getChunkDoc, getRunDoc, saveChunkDoc, settleChunk, updateRunDoc, type Versioned } from '../store/runs-table';

/**
 * The sender (one queue function per provider): delivers one chunk, one provider request at a
 * time, each after a token from the shared rate governor. When it must wait — for tokens, for a
 * throttled account, for the provider's asynchronous processing, after a transient failure — it
 * saves the delivery state on the chunk and re-enqueues the chunk with that delay instead of
 * sleeping. A chunk is counted on its run exactly once: confirming it and adding its numbers to
 * the run is one transaction that only a pending chunk can pass.
 */
export const MAX_TRANSIENT_ATTEMPTS = 8;
const INVOCATION_BUDGET_IN_MS = 20_000;
const MAX_FAILED_CHUNKS_LISTED = 20;
/**
 * Queue delays are whole seconds, so a wait shorter than this is paced in place (the governor's
 * next token is usually a few hundred milliseconds away at 5 requests/s); anything longer, and every
 * provider 429, goes back to the queue with a visibility delay.
 */
export const MAX_PACING_WAIT_IN_MS = 1_000;
/** How stale the run's status may be before a request: a cancelled run stops within this (and a paced wait). */
const RUN_CHECK_INTERVAL_IN_MS = 250;

export interface SendOptions {
  abortSignal?: AbortSignal;
  /** Called after each provider request succeeded, before anything is saved (fault tests crash here). */
  afterStep?: (step: { runId: string; chunk: number }) => void;
}

export async function sendChunk(context: AppContext, message: ChunkMessage, options: SendOptions = {}): Promise<void> {
  const { runId, chunk: chunkNumber } = message;
  const { abortSignal } = options;
  const [run, chunk] = await Promise.all([getRunDoc(context, runId, abortSignal), getChunkDoc(context, runId, chunkNumber)]);
  if (!run || !chunk || chunk.value.status !== 'pending') return;
  if (isTerminal(run.value.status)) return;

  const connectionId = run.value.connectionId ?? (await readExport(context, run.value.exportId, abortSignal))?.export.connectionId;
  if (!connectionId) {
    await finishRun(context, runId, 'cancelled', 'The export was deleted');
    return;
  }
  let adapter: ProviderAdapter;
  let account: GovernorAccount;
  try {
    const forUse = await connectionForUse(context, connectionId, abortSignal);
    adapter = adapterFor(context, forUse);
    account = governorAccount(forUse.connection);
  } catch (error) {
    if (!isAppError(error, Errors.notFound)) throw error;
    await abortRun(context, runId, `The export's connection '${connectionId}' no longer exists`);
    await failChunk(context, runId, chunkNumber, 'The connection no longer exists');
    return;
  }
  const reservation = reservePayloadMemory(context, chunk.value.bytes ?? 0);
  if (!reservation) {
    // Enough large chunks are already in memory in this process: another instance, or later.
    await sendMessage(context.storage.queue(chunkQueueName(context, run.value.provider)), message, { visibilityDelayInSeconds: 1 });
    return;
  }
  try {
    await deliverChunk(context, run.value, chunk, adapter, account, options);
  } finally {
    reservation.release();
  }
}

/**
 * Large chunks (a Brevo import holds up to 8 MB of JSON, several times that once parsed) are read
 * only while this process holds fewer than `MAX_PAYLOAD_BYTES_IN_MEMORY` of them, which bounds the
 * memory however many messages the host hands us at once.
 */
export const MAX_PAYLOAD_BYTES_IN_MEMORY = 24 * 1024 * 1024;
const payloadBytesInMemory = new WeakMap<AppContext, { bytes: number }>();

function reservePayloadMemory(context: AppContext, bytes: number): { release(): void } | undefined {
  let usage = payloadBytesInMemory.get(context);
  if (!usage) {
    usage = { bytes: 0 };
    payloadBytesInMemory.set(context, usage);
  }
  const held = usage;
  if (held.bytes > 0 && held.bytes + bytes > MAX_PAYLOAD_BYTES_IN_MEMORY) return undefined;
  held.bytes += bytes;
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      held.bytes -= bytes;
    },
  };
}

async function deliverChunk(
  context: AppContext,
  run: RunDoc,
  chunk: Versioned<ChunkDoc>,
  adapter: ProviderAdapter,
  account: GovernorAccount,
  options: SendOptions,
): Promise<void> {
  const { runId } = run;
  const chunkNumber = chunk.value.chunk;
  const { abortSignal } = options;
  const log = context.log.child({ runId, chunk: chunkNumber });
  const governor = governorFor(context);
  const operation = chunkOperationSchema.parse(await readChunkPayload(context, runId, chunk.value));
  const delivery = new Delivery(context, run, chunk, operation);
  let state: DeliveryState = chunk.value.state ? (JSON.parse(chunk.value.state) as DeliveryState) : adapter.start(operation);
  const deadline = Date.now() + INVOCATION_BUDGET_IN_MS;

  // The run was read just before this; it is read again before a request once it is this old.
  let runCheckedAt = performance.now();
  for (;;) {
    // Everything that is not the request happens before the token, so the governor's grant is
    // used at once: the run may have been cancelled (or its export deleted) meanwhile.
    if (performance.now() - runCheckedAt > RUN_CHECK_INTERVAL_IN_MS) {
      const stop = await reasonToStop(context, runId, abortSignal);
      if (stop) {
        if (stop.abortReason) await failChunk(context, runId, chunkNumber, stop.abortReason);
        return;
      }
      runCheckedAt = performance.now();
    }
    const notifyUrl = await notifyUrlFor(context, runId, chunk.value);
    const bucket = adapter.nextBucket(operation, state);
    const grant = await takeWithPacing(governor, account, bucket, deadline, abortSignal, async () => !(await reasonToStop(context, runId, abortSignal)));
    if (grant === 'stop') return;
    if (!grant.granted) {
      await delivery.later(state, grant.waitMs);
      return;
    }
    let result: Awaited<ReturnType<ProviderAdapter['step']>>;
    try {
      result = await adapter.step(operation, state, {
        abortSignal,
        notifyUrl,
        onRateSignal: (signal) => void governor.observe(account, signal).catch(() => undefined),
      });
    } catch (error) {
      if (isProviderErrorKind(error, 'throttled')) {
        const untilMs = Date.now() + error.retryAfterMs;
        await governor.pause(account, untilMs, { escalate: error.retryAfterSource === 'default' });
        log.info('throttled by the provider', { provider: adapter.provider, retryAfterMs: error.retryAfterMs });
        await delivery.later(state, error.retryAfterMs);
        return;
      }
      if (isProviderErrorKind(error, 'auth')) {
        const reason = `The provider refused the connection's API key (${error.message}); fix the connection and run again`;
        await abortRun(context, runId, reason);
        await failChunk(context, runId, chunkNumber, reason);
        return;
      }
      if (isProviderErrorKind(error, 'permanent')) {
        await failChunk(context, runId, chunkNumber, error.message);
        return;
      }
      if (isProviderErrorKind(error, 'transient')) {
        await delivery.retryLater(state, error.message);
        return;
      }
      await delivery.recordError(error);
      throw error;
    }
    delivery.stepped();
    options.afterStep?.({ runId, chunk: chunkNumber });
    if (result.kind === 'done') {
      await confirmChunk(context, runId, chunk.value, operation, result.rejects);
      return;
    }
    state = result.state;
    if (result.notBeforeMs !== undefined && result.notBeforeMs > MAX_PACING_WAIT_IN_MS) {
      await delivery.later(state, result.notBeforeMs);
      return;
    }
    if (result.notBeforeMs !== undefined && result.notBeforeMs > 0) await sleep(result.notBeforeMs);
    if (Date.now() > deadline) {
      await delivery.later(state, 0);
      return;
    }
  }
}

/** A token, waiting in place for short waits; after each wait `stillWanted` decides whether to go on. */
async function takeWithPacing(
  governor: RateGovernor,
  account: GovernorAccount,
  bucket: string,
  deadline: number,
  abortSignal: AbortSignal | undefined,
  stillWanted: () => Promise<boolean>,
): Promise<TakeResult | 'stop'> {
  for (;;) {
    const grant = await governor.take(account, bucket, { abortSignal });
    if (grant.granted || grant.waitMs > MAX_PACING_WAIT_IN_MS || Date.now() + grant.waitMs > deadline) return grant;
    await sleep(grant.waitMs, undefined, { signal: abortSignal });
    if (!(await stillWanted())) return 'stop';
  }
}

/** Why this chunk must not go on: its run ended, or the provider refused the key. */
async function reasonToStop(context: AppContext, runId: string, abortSignal?: AbortSignal): Promise<{ abortReason?: string } | undefined> {
  const run = await getRunDoc(context, runId, abortSignal);
  if (!run || isTerminal(run.value.status)) return {};
  if (run.value.abortReason) return { abortReason: run.value.abortReason };
  return undefined;
}

/** Saves a chunk's progress and re-enqueues it. */
class Delivery {
  private steps = 0;

  constructor(
    private readonly context: AppContext,
    private readonly run: RunDoc,
    private chunk: Versioned<ChunkDoc>,
    private readonly operation: ChunkOperation,
  ) {}

  stepped(): void {
    this.steps++;
  }

  async later(state: DeliveryState, delayInMs: number, lastError?: string, transientAttempts?: number): Promise<void> {
    const next: ChunkDoc = {
      ...this.chunk.value,
      state: JSON.stringify(state),
      steps: this.chunk.value.steps + this.steps,
      lastError: lastError ?? this.chunk.value.lastError,
      transientAttempts: transientAttempts ?? 0,
    };
    const etag = await saveChunkDoc(this.context, this.run.runId, { value: next, etag: this.chunk.etag });
    // Someone else moved the chunk on (a duplicate message): let that delivery continue alone.
    if (etag === undefined) return;
    this.chunk = { value: next, etag };
    this.steps = 0;
    const queue = this.context.storage.queue(chunkQueueName(this.context, this.run.provider));
    await sendMessage(queue, { runId: this.run.runId, chunk: next.chunk }, { visibilityDelayInSeconds: Math.ceil(delayInMs / 1000) });
  }

  /** A transient failure: try again later with exponential backoff, or give the chunk up. */
  async retryLater(state: DeliveryState, error: string): Promise<void> {
    const attempts = (this.chunk.value.transientAttempts ?? 0) + 1;
    if (attempts > MAX_TRANSIENT_ATTEMPTS) {
      await failChunk(this.context, this.run.runId, this.chunk.value.chunk, `Gave up after ${attempts - 1} transient failures: ${error}`);
      return;
    }
    const delayInMs = Math.min(60_000, 1_000 * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
    this.context.log.info('transient provider failure, retrying later', { runId: this.run.runId, chunk: this.chunk.value.chunk, attempts, error });
    await this.later(state, delayInMs, error, attempts);
  }

  /** Keeps the last error on the chunk, for the poison handler to report. */
  async recordError(error: unknown): Promise<void> {
    const next = { ...this.chunk.value, lastError: error instanceof Error ? error.message : String(error) };
    await saveChunkDoc(this.context, this.run.runId, { value: next, etag: this.chunk.etag }).catch(() => undefined);
  }
}

/** The chunk was delivered: record its rejects, then confirm and count it in one transaction. */
async function confirmChunk(
  context: AppContext,
  runId: string,
  chunk: ChunkDoc,
  operation: ChunkOperation,
  rejects: readonly RecordReject[],
): Promise<void> {
  const { chunk: chunkNumber, target } = chunk;
  const segmentOf = new Map<string, { segmentId?: string; isNew: boolean }>();
  if (operation.kind === 'upsert') for (const record of operation.records) segmentOf.set(record.email, record);
  const unique = new Map(rejects.map((reject) => [reject.email.trim().toLowerCase(), reject]));
  await writeRejects(
    context,
    runId,
    [...unique.values()].map((reject, index) => {
      const record = segmentOf.get(reject.email.trim().toLowerCase());
      const op: RejectOp = operation.kind === 'remove' ? 'remove' : record?.isNew === false ? 'update' : 'add';
      return {
        rowKey: chunkRejectKey(chunkNumber, index),
        email: reject.email,
        segmentId: record?.segmentId ?? '',
        code: 'provider_rejected',
        reason: `${reject.code}: ${reject.reason}`,
        target,
        op,
      };
    }),
  );
  const records = operation.kind === 'upsert' ? operation.records.length : operation.emails.length;
  const rejected = Math.min(unique.size, records);
  const run = await settleChunk(
    context,
    runId,
    chunkNumber,
    (settled) => ({ ...settled, status: 'confirmed', rejected, state: undefined }),
    (doc) => {
      doc.chunksConfirmed += 1;
      doc.totals.sent += records - rejected;
      doc.totals.rejected += rejected;
      return settleIfComplete(doc, context.now());
    },
  );
  if (run && isTerminal(run.status)) await releaseRun(context, run);
}

/** The chunk could not be delivered: count its records as failed and name it on the run. */
export async function failChunk(context: AppContext, runId: string, chunkNumber: number, error: string): Promise<void> {
  const run = await settleChunk(
    context,
    runId,
    chunkNumber,
    (chunk) => ({ ...chunk, status: 'failed', lastError: error }),
    (doc, chunk) => {
      doc.chunksFailed += 1;
      doc.totals.failed += chunk.records;
      if (doc.failedChunks.length < MAX_FAILED_CHUNKS_LISTED) {
        doc.failedChunks.push({ chunk: chunk.chunk, target: chunk.target, records: chunk.records, error: error.slice(0, 300) });
      }
      return settleIfComplete(doc, context.now());
    },
  );
  if (run) context.log.warn('chunk failed', { runId, chunk: chunkNumber, error });
  if (run && isTerminal(run.status)) await releaseRun(context, run);
}

/** Stops every remaining chunk of a run from calling the provider (the key was refused). */
async function abortRun(context: AppContext, runId: string, reason: string): Promise<void> {
  await updateRunDoc(context, runId, (doc) => {
    if (doc.abortReason || isTerminal(doc.status)) return undefined;
    doc.abortReason = reason;
    return doc;
  });
}
