// The runs table keeps everything of one run in the run's own partition — the run document
// (RowKey `run`) and one row per chunk (`c-<number>`) — so that confirming a chunk and counting it
// on the run is one atomic entity-group transaction: a redelivered chunk can never count twice.
// The run index (PartitionKey exportId) lists an export's runs newest first. Only run-state
// (`../run-state.ts`) writes run documents and chunk rows; everyone may read them.
import { odata, type TableClient, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { AppContext } from '../../app/context';
import type { OperationOptions } from '../../app/operation';
import { chunkDocSchema, isTerminal, runDocSchema, type ChunkDoc, type RunDoc } from '../../domain/run';
import {
  createEntityIfAbsent,
  deletePartition,
  getEntity,
  isPreconditionFailed,
  isTransactionConflict,
  replaceEntityIfUnchanged,
} from '../../storage/tables';

export const RUN_ROW = 'run';
export const chunkRowKey = (chunk: number): string => `c-${String(chunk).padStart(7, '0')}`;
export const MAX_TRANSACTION_ACTIONS = 100;

const docRowSchema = z.object({ partitionKey: z.string(), rowKey: z.string(), doc: z.string(), etag: z.string() });
const chunkRowSchema = docRowSchema.extend({ payload: z.string().optional() });

export interface Versioned<T> {
  value: T;
  etag: string;
}

export function runsTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.runs);
}

/** The run document with its ETag, or undefined when there is no such run. */
export async function getRunDoc(context: AppContext, runId: string, options: OperationOptions = {}): Promise<Versioned<RunDoc> | undefined> {
  const row = await getEntity(runsTable(context), runId, RUN_ROW, docRowSchema, options);
  return row && { value: runDocSchema.parse(JSON.parse(row.doc)), etag: row.etag };
}

/** Creates the run document; false when a run with this id already exists. */
export async function createRunDoc(context: AppContext, doc: RunDoc, options: OperationOptions = {}): Promise<boolean> {
  const entity = { partitionKey: doc.runId, rowKey: RUN_ROW, doc: JSON.stringify(runDocSchema.parse(doc)) };
  return await createEntityIfAbsent(runsTable(context), entity, options);
}

/**
 * Read-modify-write: replaces the run document with what `change` makes of it, under its ETag,
 * retried on conflicts. `change` returns undefined to leave the document as it is. Undefined when
 * there is no such run.
 */
export async function replaceRunDoc(
  context: AppContext,
  runId: string,
  change: (doc: RunDoc) => RunDoc | undefined,
  options: OperationOptions = {},
): Promise<{ doc: RunDoc; changed: boolean } | undefined> {
  for (let attempt = 0; ; attempt++) {
    const current = await getRunDoc(context, runId, options);
    if (!current) return undefined;
    const next = change(structuredClone(current.value));
    if (!next) return { doc: current.value, changed: false };
    try {
      await runsTable(context).updateEntity(
        { partitionKey: runId, rowKey: RUN_ROW, doc: JSON.stringify(runDocSchema.parse(next)) },
        'Replace',
        { etag: current.etag, abortSignal: options.abortSignal },
      );
      return { doc: next, changed: true };
    } catch (error) {
      if (!isPreconditionFailed(error) || attempt > 50) throw error;
      await backoff(attempt);
    }
  }
}

/** The chunk row with its ETag, or undefined when the run has no such chunk. */
export async function getChunkDoc(context: AppContext, runId: string, chunk: number, options: OperationOptions = {}): Promise<Versioned<ChunkDoc> | undefined> {
  const row = await getEntity(runsTable(context), runId, chunkRowKey(chunk), chunkRowSchema, options);
  return row && parseChunk(row);
}

/** Every chunk of a run, in chunk order. */
export async function* listChunkDocs(context: AppContext, runId: string, options: OperationOptions = {}): AsyncGenerator<ChunkDoc> {
  const entities = runsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${runId} and RowKey ge 'c-' and RowKey lt 'c.'` },
    abortSignal: options.abortSignal,
  });
  for await (const entity of entities) yield parseChunk(entity).value;
}

/** Writes chunk rows (replacing rows of the same numbers) in transactions of up to 100. */
export async function upsertChunkDocs(context: AppContext, runId: string, chunks: readonly ChunkDoc[], options: OperationOptions = {}): Promise<void> {
  for (let start = 0; start < chunks.length; start += MAX_TRANSACTION_ACTIONS) {
    const actions: TransactionAction[] = chunks
      .slice(start, start + MAX_TRANSACTION_ACTIONS)
      .map((chunk) => ['upsert', chunkEntity(runId, chunk), 'Replace']);
    await runsTable(context).submitTransaction(actions, { abortSignal: options.abortSignal });
  }
}

/** Replaces a chunk row under its ETag; answers the new ETag, or undefined when someone changed (or deleted) the chunk meanwhile. */
export async function replaceChunkDoc(context: AppContext, runId: string, chunk: Versioned<ChunkDoc>, options: OperationOptions = {}): Promise<string | undefined> {
  return await replaceEntityIfUnchanged(runsTable(context), chunkEntity(runId, chunk.value), chunk.etag, options);
}

/**
 * Moves a chunk to its final status and applies `change` to the run document in one transaction.
 * Returns the new run document, or undefined when the chunk was already final (a redelivery) or,
 * with `whileRunActive`, when the run has ended.
 *
 * The senders of one process settle their chunks of a run together: every chunk of a run updates
 * the run document under its ETag, so concurrent settles one by one mostly conflict and retry
 * (about three transactions a chunk with a dozen senders). Settles that arrive while one is in
 * flight are folded, in arrival order, into the next transaction (the run row and up to 99 chunk
 * rows); each caller gets the run document as it was right after its own change, so exactly one
 * caller sees the change that ended the run. Conflicts remain only between instances.
 */
export async function settleChunk(
  context: AppContext,
  runId: string,
  chunkNumber: number,
  settle: (chunk: ChunkDoc) => ChunkDoc,
  change: (run: RunDoc, chunk: ChunkDoc) => RunDoc,
  options: OperationOptions & { whileRunActive?: boolean } = {},
): Promise<RunDoc | undefined> {
  options.abortSignal?.throwIfAborted();
  const key = `${context.storage.names.tables.runs}/${runId}`;
  let settlers = pendingSettles.get(context.storage);
  if (!settlers) pendingSettles.set(context.storage, (settlers = new Map<string, RunSettler>()));
  const settler = settlers.get(key) ?? { queue: [], flushing: false };
  settlers.set(key, settler);
  const settled = new Promise<RunDoc | undefined>((resolve, reject) => {
    settler.queue.push({ chunkNumber, settle, change, whileRunActive: options.whileRunActive === true, resolve, reject });
  });
  if (!settler.flushing) void flushSettles(context, runId, settler, () => settlers.delete(key));
  return await settled;
}

interface PendingSettle {
  chunkNumber: number;
  settle: (chunk: ChunkDoc) => ChunkDoc;
  change: (run: RunDoc, chunk: ChunkDoc) => RunDoc;
  whileRunActive: boolean;
  resolve: (run: RunDoc | undefined) => void;
  reject: (error: unknown) => void;
}

interface RunSettler {
  queue: PendingSettle[];
  flushing: boolean;
}

/** Per storage account (one per app instance), per runs table and run: the settles waiting for a transaction. */
const pendingSettles = new WeakMap<object, Map<string, RunSettler>>();

/** The chunk rows of one settle transaction, beside the run row. */
const MAX_SETTLES_PER_TRANSACTION = MAX_TRANSACTION_ACTIONS - 1;
/** Under the 4 MiB of an entity-group transaction, counting a character as up to two bytes (small chunks carry their payload inline). */
const MAX_SETTLE_TRANSACTION_CHARS = 1_500_000;

async function flushSettles(context: AppContext, runId: string, settler: RunSettler, forget: () => void): Promise<void> {
  settler.flushing = true;
  try {
    while (settler.queue.length > 0) {
      const batch = settler.queue.splice(0, MAX_SETTLES_PER_TRANSACTION);
      try {
        const results = await settleTogether(context, runId, batch);
        for (const [index, run] of results.entries()) batch[index]!.resolve(run);
        // What did not fit in the transaction's bytes goes first in the next one.
        settler.queue.unshift(...batch.slice(results.length));
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
  } finally {
    settler.flushing = false;
    forget();
  }
}

/**
 * One transaction for as many of `batch` as fit (in order); answers their run documents, one per
 * settle it took (the rest of the batch is settled later).
 */
async function settleTogether(context: AppContext, runId: string, batch: readonly PendingSettle[]): Promise<(RunDoc | undefined)[]> {
  const numbers = [...new Set(batch.map((pending) => pending.chunkNumber))];
  for (let attempt = 0; ; attempt++) {
    const [run, ...chunks] = await Promise.all([getRunDoc(context, runId), ...numbers.map((chunk) => getChunkDoc(context, runId, chunk))]);
    const current = new Map(numbers.map((chunk, index) => [chunk, chunks[index]]));
    const settled = new Map<number, { doc: ChunkDoc; entity: ReturnType<typeof chunkEntity> }>();
    const results: (RunDoc | undefined)[] = [];
    let doc = run && structuredClone(run.value);
    let chars = 0;
    for (const pending of batch) {
      const chunk = current.get(pending.chunkNumber);
      const status = settled.get(pending.chunkNumber)?.doc.status ?? chunk?.value.status;
      if (!doc || !chunk || status !== 'pending' || (pending.whileRunActive && isTerminal(doc.status))) {
        results.push(undefined);
        continue;
      }
      const next = pending.settle(structuredClone(chunk.value));
      const entity = chunkEntity(runId, next);
      chars += entity.doc.length + (entity.payload?.length ?? 0);
      if (settled.size > 0 && chars > MAX_SETTLE_TRANSACTION_CHARS) break;
      settled.set(pending.chunkNumber, { doc: next, entity });
      doc = pending.change(doc, next);
      results.push(structuredClone(doc));
    }
    if (!run || !doc || settled.size === 0) return results;
    const actions: TransactionAction[] = [...settled].map(([chunk, { entity }]) => ['update', entity, 'Replace', { etag: current.get(chunk)!.etag }]);
    actions.push(['update', { partitionKey: runId, rowKey: RUN_ROW, doc: JSON.stringify(runDocSchema.parse(doc)) }, 'Replace', { etag: run.etag }]);
    try {
      await runsTable(context).submitTransaction(actions);
      return results;
    } catch (error) {
      if (!isTransactionConflict(error) || attempt > 50) throw error;
      await backoff(attempt);
    }
  }
}

/**
 * A chunk row: the document as JSON, and a small chunk's payload in a property of its own (inside
 * the document its quotes would be escaped and could push the property past 32K characters).
 */
function chunkEntity(runId: string, chunk: ChunkDoc) {
  const { payloadInline, ...doc } = chunkDocSchema.parse(chunk);
  return {
    partitionKey: runId,
    rowKey: chunkRowKey(chunk.chunk),
    doc: JSON.stringify(doc),
    ...(payloadInline === undefined ? {} : { payload: payloadInline }),
  };
}

function parseChunk(entity: unknown): Versioned<ChunkDoc> {
  const row = chunkRowSchema.parse(entity);
  const doc = chunkDocSchema.parse({ ...(JSON.parse(row.doc) as object), ...(row.payload === undefined ? {} : { payloadInline: row.payload }) });
  return { value: doc, etag: row.etag };
}

async function backoff(attempt: number): Promise<void> {
  await sleep(Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
}

/** Each export's runs, newest first: RowKey = inverted creation time + run id. */
const INDEX_MAX_MS = 9_999_999_999_999;

export function runIndexRowKey(createdAt: Date, runId: string): string {
  return `${String(INDEX_MAX_MS - createdAt.getTime()).padStart(13, '0')}_${runId}`;
}

export function runIndexTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.runIndex);
}

/** Adds a run to its export's history (writing it again changes nothing). */
export async function upsertRunIndex(context: AppContext, exportId: string, createdAt: Date, runId: string, options: OperationOptions = {}): Promise<void> {
  const entity = { partitionKey: exportId, rowKey: runIndexRowKey(createdAt, runId), runId };
  await runIndexTable(context).upsertEntity(entity, 'Replace', { abortSignal: options.abortSignal });
}

const indexRowSchema = z.object({ runId: z.string() });

/** One page of an export's run ids, newest first, and the token of the next page. */
export async function getRunIdsPage(
  context: AppContext,
  exportId: string,
  pageSize: number,
  continuationToken: string | undefined,
  options: OperationOptions = {},
): Promise<{ runIds: string[]; continuationToken: string | undefined }> {
  const pages = runIndexTable(context)
    .listEntities({ queryOptions: { filter: odata`PartitionKey eq ${exportId}` }, abortSignal: options.abortSignal })
    .byPage({ maxPageSize: pageSize, continuationToken });
  const page = await pages.next();
  if (page.done) return { runIds: [], continuationToken: undefined };
  const entities = page.value as (TableEntityResult<Record<string, unknown>>[] & { continuationToken?: string });
  return { runIds: entities.map((entity) => indexRowSchema.parse(entity).runId), continuationToken: entities.continuationToken };
}

/** Forgets an export's run history; succeeds when there is none. */
export async function deleteRunIndex(context: AppContext, exportId: string, options: OperationOptions = {}): Promise<void> {
  await deletePartition(runIndexTable(context), exportId, options);
}
