import { odata, type TableClient, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { AppContext } from '../../app/context';
import { chunkDocSchema, runDocSchema, type ChunkDoc, type RunDoc } from '../../domain/run';
import {
  createEntityIfAbsent,
  deletePartition,
  getEntity,
  isPreconditionFailed,
  isTransactionConflict,
  replaceEntityIfUnchanged,
} from '../../storage/tables';

/**
 * The runs table keeps everything of one run in the run's own partition — the run document
 * (RowKey `run`) and one row per chunk (`c-<number>`) — so that confirming a chunk and counting it
 * on the run is one atomic entity-group transaction: a redelivered chunk can never count twice.
 * The run index (PartitionKey exportId) lists an export's runs newest first.
 */
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

export async function getRunDoc(context: AppContext, runId: string, abortSignal?: AbortSignal): Promise<Versioned<RunDoc> | undefined> {
  const row = await getEntity(runsTable(context), runId, RUN_ROW, docRowSchema, { abortSignal });
  return row && { value: runDocSchema.parse(JSON.parse(row.doc)), etag: row.etag };
}

/** Creates the run document; false when a run with this id already exists. */
export async function insertRunDoc(context: AppContext, doc: RunDoc): Promise<boolean> {
  return await createEntityIfAbsent(runsTable(context), { partitionKey: doc.runId, rowKey: RUN_ROW, doc: JSON.stringify(runDocSchema.parse(doc)) });
}

/**
 * Read-modify-write of a run document under its ETag, retried on conflicts. `change` returns the
 * new document, or undefined to leave it as it is.
 */
export async function updateRunDoc(
  context: AppContext,
  runId: string,
  change: (doc: RunDoc) => RunDoc | undefined,
  abortSignal?: AbortSignal,
): Promise<{ doc: RunDoc; changed: boolean } | undefined> {
  for (let attempt = 0; ; attempt++) {
    const current = await getRunDoc(context, runId, abortSignal);
    if (!current) return undefined;
    const next = change(structuredClone(current.value));
    if (!next) return { doc: current.value, changed: false };
    try {
      await runsTable(context).updateEntity(
        { partitionKey: runId, rowKey: RUN_ROW, doc: JSON.stringify(runDocSchema.parse(next)) },
        'Replace',
        { etag: current.etag, abortSignal },
      );
      return { doc: next, changed: true };
    } catch (error) {
      if (!isPreconditionFailed(error) || attempt > 50) throw error;
      await backoff(attempt);
    }
  }
}

export async function getChunkDoc(context: AppContext, runId: string, chunk: number): Promise<Versioned<ChunkDoc> | undefined> {
  const row = await getEntity(runsTable(context), runId, chunkRowKey(chunk), chunkRowSchema);
  return row && parseChunk(row);
}

export async function* listChunkDocs(context: AppContext, runId: string, abortSignal?: AbortSignal): AsyncGenerator<ChunkDoc> {
  const entities = runsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${runId} and RowKey ge 'c-' and RowKey lt 'c.'` },
    abortSignal,
  });
  for await (const entity of entities) yield parseChunk(entity).value;
}

/** Inserts chunk rows in transactions of up to 100. */
export async function insertChunkDocs(context: AppContext, runId: string, chunks: readonly ChunkDoc[]): Promise<void> {
  for (let start = 0; start < chunks.length; start += MAX_TRANSACTION_ACTIONS) {
    const actions: TransactionAction[] = chunks
      .slice(start, start + MAX_TRANSACTION_ACTIONS)
      .map((chunk) => ['upsert', chunkEntity(runId, chunk), 'Replace']);
    await runsTable(context).submitTransaction(actions);
  }
}

/** Saves a chunk's delivery state; false when someone else changed the chunk meanwhile. */
export async function saveChunkDoc(context: AppContext, runId: string, chunk: Versioned<ChunkDoc>): Promise<string | undefined> {
  return await replaceEntityIfUnchanged(runsTable(context), chunkEntity(runId, chunk.value), chunk.etag);
}

/**
 * Moves a chunk to its final status and applies `change` to the run document in one transaction.
 * Returns the new run document, or undefined when the chunk was already final (a redelivery).
 */
export async function settleChunk(
  context: AppContext,
  runId: string,
  chunkNumber: number,
  settle: (chunk: ChunkDoc) => ChunkDoc,
  change: (run: RunDoc, chunk: ChunkDoc) => RunDoc,
): Promise<RunDoc | undefined> {
  for (let attempt = 0; ; attempt++) {
    const [run, chunk] = await Promise.all([getRunDoc(context, runId), getChunkDoc(context, runId, chunkNumber)]);
    if (!run || !chunk || chunk.value.status !== 'pending') return undefined;
    const settled = settle(structuredClone(chunk.value));
    const next = change(structuredClone(run.value), settled);
    try {
      await runsTable(context).submitTransaction([
        ['update', chunkEntity(runId, settled), 'Replace', { etag: chunk.etag }],
        ['update', { partitionKey: runId, rowKey: RUN_ROW, doc: JSON.stringify(runDocSchema.parse(next)) }, 'Replace', { etag: run.etag }],
      ]);
      return next;
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

export async function insertRunIndex(context: AppContext, exportId: string, createdAt: Date, runId: string): Promise<void> {
  await runIndexTable(context).upsertEntity({ partitionKey: exportId, rowKey: runIndexRowKey(createdAt, runId), runId }, 'Replace');
}

const indexRowSchema = z.object({ runId: z.string() });

export async function listRunIdsPage(
  context: AppContext,
  exportId: string,
  pageSize: number,
  continuationToken: string | undefined,
): Promise<{ runIds: string[]; continuationToken: string | undefined }> {
  const pages = runIndexTable(context)
    .listEntities({ queryOptions: { filter: odata`PartitionKey eq ${exportId}` } })
    .byPage({ maxPageSize: pageSize, continuationToken });
  const page = await pages.next();
  if (page.done) return { runIds: [], continuationToken: undefined };
  const entities = page.value as (TableEntityResult<Record<string, unknown>>[] & { continuationToken?: string });
  return { runIds: entities.map((entity) => indexRowSchema.parse(entity).runId), continuationToken: entities.continuationToken };
}

export async function deleteRunIndex(context: AppContext, exportId: string): Promise<void> {
  await deletePartition(runIndexTable(context), exportId);
}
