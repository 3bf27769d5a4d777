// Per-record rejects of a run. What the planner rejects (invalid, missing and duplicate emails:
// up to a few percent of a segment) is streamed as NDJSON into one blob per target; what a
// provider rejects is a table row each in the run's partition, with a deterministic row key
// (`c<chunk>-<index>`), so writing them again after a retry replaces instead of doubling. The API
// lists the planner's rejects first, then the provider's.
import { odata, type TableClient, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../../app/context';
import type { OperationOptions } from '../../app/operation';
import { rejectRowSchema, UNDELIVERED_PROVIDER_CODES, type RejectRow } from '../../domain/run';
import { Errors } from '../../errors';
import { BlobLineWriter } from './blob-lines';
import { readLines } from './lines';
import { MAX_TRANSACTION_ACTIONS } from './runs-table';

export type RejectOp = 'add' | 'update' | 'remove';

export interface RejectRecord extends RejectRow {
  rowKey: string;
  /** The key of the target the record was meant for (a column of the rejects table, queried by the ledger). */
  target: string;
  op: RejectOp;
}

const rejectEntitySchema = z.object({
  rowKey: z.string(),
  email: z.string(),
  segmentId: z.string(),
  code: z.string(),
  reason: z.string(),
  target: z.string(),
  op: z.enum(['add', 'update', 'remove']),
});

function rejectsTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.rejects);
}

export const chunkRejectKey = (chunk: number, index: number): string =>
  `c${String(chunk).padStart(7, '0')}-${String(index).padStart(6, '0')}`;

/** Writes provider rejects (replacing rows of the same keys) in transactions of up to 100 (one partition: the run). */
export async function upsertRejects(context: AppContext, runId: string, records: readonly RejectRecord[], options: OperationOptions = {}): Promise<void> {
  for (let start = 0; start < records.length; start += MAX_TRANSACTION_ACTIONS) {
    const actions: TransactionAction[] = records.slice(start, start + MAX_TRANSACTION_ACTIONS).map((record) => [
      'upsert',
      { partitionKey: runId, ...record, email: record.email.slice(0, 1024), reason: record.reason.slice(0, 1024) },
      'Replace',
    ]);
    await rejectsTable(context).submitTransaction(actions, { abortSignal: options.abortSignal });
  }
}

function rejectsContainer(context: AppContext) {
  return context.storage.container(context.storage.names.containers.rejects);
}

export const plannerRejectsBlobName = (runId: string, targetIndex: number): string => `${runId}/p${String(targetIndex).padStart(3, '0')}.ndjson`;

/** The planner's rejects of one run, a blob per target (targets are planned one after another). */
export class PlannerRejects {
  private current: { targetIndex: number; lines: BlobLineWriter } | undefined;

  constructor(
    private readonly context: AppContext,
    private readonly runId: string,
  ) {}

  async add(targetIndex: number, reject: RejectRow): Promise<void> {
    if (this.current?.targetIndex !== targetIndex) {
      await this.close();
      const blob = rejectsContainer(this.context).getBlockBlobClient(plannerRejectsBlobName(this.runId, targetIndex));
      this.current = { targetIndex, lines: new BlobLineWriter(blob, 'application/x-ndjson') };
    }
    await this.current.lines.write(`${JSON.stringify(reject)}\n`);
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.lines.close();
  }

  abort(): void {
    this.current?.lines.abort();
    this.current = undefined;
  }
}

/** Where a page of rejects starts: a planner blob and a byte offset in it, or the provider rows. */
const cursorSchema = z.union([
  z.object({ blob: z.number().int().min(0), offset: z.number().int().min(0) }).strict(),
  z.object({ table: z.string().min(1) }).strict(),
]);
type Cursor = z.infer<typeof cursorSchema>;

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(token: string | undefined): Cursor {
  if (token === undefined) return { blob: 0, offset: 0 };
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
  } catch {
    throw Errors.invalidContinuationToken({ details: [{ path: 'continuationToken', message: 'not valid' }] });
  }
}

/** One page of a run's rejects and the token of the next; 400 for a token this API did not give out. */
export async function getRejectsPage(
  context: AppContext,
  runId: string,
  pageSize: number,
  continuationToken: string | undefined,
  options: OperationOptions = {},
): Promise<{ items: RejectRow[]; continuationToken: string | undefined }> {
  const { abortSignal } = options;
  const cursor = decodeCursor(continuationToken);
  const items: RejectRow[] = [];
  if ('blob' in cursor) {
    const blobs: string[] = [];
    for await (const blob of rejectsContainer(context).listBlobsFlat({ prefix: `${runId}/`, abortSignal })) blobs.push(blob.name);
    blobs.sort();
    for (let index = cursor.blob; index < blobs.length; index++) {
      let offset = index === cursor.blob ? cursor.offset : 0;
      const download = await rejectsContainer(context).getBlobClient(blobs[index]!).download(offset, undefined, { abortSignal });
      const body = download.readableStreamBody;
      if (!body) continue;
      try {
        for await (const line of readLines(body)) {
          offset += Buffer.byteLength(line) + 1;
          if (line === '') continue;
          items.push(rejectRowSchema.parse(JSON.parse(line)));
          if (items.length === pageSize) return { items, continuationToken: encodeCursor({ blob: index, offset }) };
        }
      } finally {
        (body as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      }
    }
  }
  const tablePage = await rejectsTable(context)
    .listEntities({ queryOptions: { filter: odata`PartitionKey eq ${runId}` }, abortSignal })
    .byPage({ maxPageSize: pageSize - items.length, continuationToken: 'table' in cursor ? cursor.table : undefined })
    .next();
  if (tablePage.done) return { items, continuationToken: undefined };
  const entities = tablePage.value as TableEntityResult<Record<string, unknown>>[] & { continuationToken?: string };
  for (const entity of entities) {
    const row = rejectEntitySchema.parse(entity);
    items.push({ email: row.email, segmentId: row.segmentId, code: row.code, reason: row.reason });
  }
  return { items, continuationToken: entities.continuationToken ? encodeCursor({ table: entities.continuationToken }) : undefined };
}

/** The provider rejects of a target whose records were not delivered (notes like `phone_dropped` are left out). */
export async function* listProviderRejects(context: AppContext, runId: string, targetKey: string, options: OperationOptions = {}): AsyncGenerator<RejectRecord> {
  const [rejected, unmatched] = UNDELIVERED_PROVIDER_CODES;
  const entities = rejectsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${runId} and (code eq ${rejected} or code eq ${unmatched}) and target eq ${targetKey}` },
    abortSignal: options.abortSignal,
  });
  for await (const entity of entities) yield rejectEntitySchema.parse(entity);
}

/**
 * Takes a person out of every stored reject (an erasure): the provider's reject rows that name the
 * email, and the lines of the planner's reject blobs that do (a blob is rewritten only when it has
 * one). Answers how many records went.
 */
export async function scrubRejects(context: AppContext, email: string, options: OperationOptions = {}): Promise<number> {
  const { abortSignal } = options;
  let removed = 0;
  const table = rejectsTable(context);
  for await (const entity of table.listEntities({ queryOptions: { filter: odata`email eq ${email}`, select: ['PartitionKey', 'RowKey'] }, abortSignal })) {
    await table.deleteEntity(String(entity.partitionKey), String(entity.rowKey), { abortSignal }).catch(() => undefined);
    removed++;
  }
  const container = rejectsContainer(context);
  for await (const blob of container.listBlobsFlat({ abortSignal })) {
    const download = await container.getBlobClient(blob.name).download(0, undefined, { abortSignal });
    if (!download.readableStreamBody) continue;
    const kept: string[] = [];
    let dropped = 0;
    for await (const line of readLines(download.readableStreamBody)) {
      if (line === '') continue;
      const row = rejectRowSchema.safeParse(JSON.parse(line));
      if (row.success && row.data.email.trim().toLowerCase() === email) dropped++;
      else kept.push(line);
    }
    if (dropped === 0) continue;
    const text = kept.map((line) => `${line}\n`).join('');
    await container.getBlockBlobClient(blob.name).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/x-ndjson' }, abortSignal });
    removed += dropped;
  }
  return removed;
}
