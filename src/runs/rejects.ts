import { odata, type TableClient, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import type { RejectRow } from '../domain/run';
import { MAX_TRANSACTION_ACTIONS } from './repository';

/**
 * Per-record rejects of a run, one row each in the run's partition of the rejects table. Row keys
 * are deterministic (`p…` for the planner, `c…` for a chunk), so writing them again after a retry
 * replaces instead of doubling.
 */
export type RejectOp = 'add' | 'update' | 'remove' | 'none';

export interface RejectRecord extends RejectRow {
  rowKey: string;
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
  op: z.enum(['add', 'update', 'remove', 'none']),
});

function rejectsTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.rejects);
}

export const plannerRejectKey = (targetIndex: number, sequence: number): string =>
  `p${String(targetIndex).padStart(3, '0')}-${String(sequence).padStart(9, '0')}`;
export const chunkRejectKey = (chunk: number, index: number): string =>
  `c${String(chunk).padStart(7, '0')}-${String(index).padStart(6, '0')}`;

/** Buffers rejects and writes them in transactions of 100, a few at a time. */
export class RejectWriter {
  private pending: RejectRecord[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly context: AppContext,
    private readonly runId: string,
  ) {}

  async add(record: RejectRecord): Promise<void> {
    this.pending.push(record);
    if (this.pending.length >= MAX_TRANSACTION_ACTIONS) await this.submit();
  }

  private async submit(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const actions: TransactionAction[] = batch.map((record) => [
      'upsert',
      { partitionKey: this.runId, ...record, email: record.email.slice(0, 1024), reason: record.reason.slice(0, 1024) },
      'Replace',
    ]);
    const work = rejectsTable(this.context)
      .submitTransaction(actions)
      .then(() => undefined)
      .finally(() => this.inFlight.delete(work));
    work.catch(() => undefined);
    this.inFlight.add(work);
    if (this.inFlight.size >= 4) await Promise.race(this.inFlight);
  }

  async flush(): Promise<void> {
    await this.submit();
    await Promise.all(this.inFlight);
  }
}

export async function writeRejects(context: AppContext, runId: string, records: readonly RejectRecord[]): Promise<void> {
  const writer = new RejectWriter(context, runId);
  for (const record of records) await writer.add(record);
  await writer.flush();
}

export async function listRejectsPage(
  context: AppContext,
  runId: string,
  pageSize: number,
  continuationToken: string | undefined,
): Promise<{ items: RejectRow[]; continuationToken: string | undefined }> {
  const pages = rejectsTable(context)
    .listEntities({ queryOptions: { filter: odata`PartitionKey eq ${runId}` } })
    .byPage({ maxPageSize: pageSize, continuationToken });
  const page = await pages.next();
  if (page.done) return { items: [], continuationToken: undefined };
  const entities = page.value as TableEntityResult<Record<string, unknown>>[] & { continuationToken?: string };
  const items = entities.map((entity) => {
    const row = rejectEntitySchema.parse(entity);
    return { email: row.email, segmentId: row.segmentId, code: row.code, reason: row.reason };
  });
  return { items, continuationToken: entities.continuationToken };
}

export async function* listProviderRejects(context: AppContext, runId: string, targetKey: string): AsyncGenerator<RejectRecord> {
  const entities = rejectsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${runId} and code eq ${'provider_rejected'} and target eq ${targetKey}` },
  });
  for await (const entity of entities) yield rejectEntitySchema.parse(entity);
}
