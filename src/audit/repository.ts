// The audit log: append-only rows in one partition of the audit table, keyed by the inverted time
// (so a query reads them newest first) and a random suffix. Nothing updates a row; the retention
// timer deletes the rows older than `AUDIT_RETENTION_DAYS`. A failure to record is logged and
// never fails the change it describes, which has already happened.
import { odata, type TableClient, type TableEntityResult, type TransactionAction } from '@azure/data-tables';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { auditActionSchema, auditChangeSchema, auditResourceTypeSchema, type AuditChange, type AuditEntry, type AuditQuery, type AuditRecord } from '../domain/audit';

export const AUDIT_PARTITION = 'audit';
const MAX_TIME_MS = 9_999_999_999_999;
const MAX_VALUE_CHARS = 1_000;
const MAX_CHANGES_CHARS = 30_000;
const MAX_TRANSACTION_ACTIONS = 100;
/** Pages of the table read for one page of the API when a filter skips most rows. */
const MAX_PAGES_PER_QUERY = 10;

const auditRowSchema = z.object({
  rowKey: z.string(),
  id: z.string(),
  at: z.string(),
  actorUserId: z.string(),
  actorName: z.string(),
  action: auditActionSchema,
  resourceType: auditResourceTypeSchema,
  resourceId: z.string(),
  summary: z.string().optional(),
  changes: z.string().optional(),
});

function auditTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.audit);
}

/** The row key of an entry at `at`: earlier entries sort after later ones. */
export function auditRowKey(at: Date, suffix: string): string {
  return `${String(MAX_TIME_MS - at.getTime()).padStart(13, '0')}_${suffix}`;
}

/** Appends an entry; answers it, or undefined when it could not be written (logged). */
export async function recordAudit(context: AppContext, record: AuditRecord, options: OperationOptions = {}): Promise<AuditEntry | undefined> {
  const at = context.now();
  const id = randomBytes(8).toString('hex');
  const entry: AuditEntry = { id, at: at.toISOString(), ...record, changes: record.changes?.map(boundChange) };
  const changes = entry.changes && entry.changes.length > 0 ? JSON.stringify(entry.changes).slice(0, MAX_CHANGES_CHARS) : undefined;
  try {
    await auditTable(context).createEntity(
      {
        partitionKey: AUDIT_PARTITION,
        rowKey: auditRowKey(at, id),
        id,
        at: entry.at,
        actorUserId: record.actor.userId,
        actorName: record.actor.name,
        action: record.action,
        resourceType: record.resourceType,
        resourceId: record.resourceId,
        ...(record.summary ? { summary: record.summary.slice(0, MAX_VALUE_CHARS) } : {}),
        ...(changes ? { changes } : {}),
      },
      { abortSignal: options.abortSignal },
    );
    return entry;
  } catch (error) {
    context.log.error('could not record an audit entry', {
      action: record.action,
      resourceType: record.resourceType,
      resourceId: record.resourceId,
      error: error instanceof Error ? error : String(error),
    });
    return undefined;
  }
}

function boundChange(change: AuditChange): AuditChange {
  const bound = (value: unknown): unknown => {
    if (value === undefined) return undefined;
    const text = JSON.stringify(value);
    return text.length <= MAX_VALUE_CHARS ? value : `${text.slice(0, MAX_VALUE_CHARS)}…`;
  };
  return {
    field: change.field,
    ...(change.old === undefined ? {} : { old: bound(change.old) }),
    ...(change.new === undefined ? {} : { new: bound(change.new) }),
    ...(change.note === undefined ? {} : { note: change.note }),
  };
}

/**
 * One page of entries, newest first, filtered by resource type and id, from the table's own cursor
 * (`cursor`, undefined: the first page); the API seals and opens the cursors (src/api/continuation.ts).
 */
export async function listAuditPage(
  context: AppContext,
  query: Omit<AuditQuery, 'continuationToken'>,
  cursor: string | undefined,
  pageSize: number,
  options: OperationOptions = {},
): Promise<{ items: AuditEntry[]; cursor?: string }> {
  let token = cursor;
  // Values enter the filter only through the `odata` template, never concatenated.
  const [type, id] = [range(query.resourceType), range(query.resourceId)];
  const filter = odata`PartitionKey eq ${AUDIT_PARTITION} and resourceType ge ${type.from} and resourceType le ${type.to} and resourceId ge ${id.from} and resourceId le ${id.to}`;
  const items: AuditEntry[] = [];
  for (let page = 0; page < MAX_PAGES_PER_QUERY && items.length === 0; page++) {
    const pages = auditTable(context)
      .listEntities({ queryOptions: { filter }, abortSignal: options.abortSignal })
      .byPage({ maxPageSize: pageSize, continuationToken: token });
    const next = await pages.next();
    if (next.done) return { items };
    const entities = next.value as TableEntityResult<Record<string, unknown>>[] & { continuationToken?: string };
    items.push(...entities.map(toEntry));
    token = entities.continuationToken;
    if (!token) return { items };
  }
  return { items, cursor: token };
}

/** Bounds that hold every value (our ids and resource types are ASCII): an unfiltered field. */
const ANY = { from: '', to: '\uffff' } as const;

/** The value range of a filter field: that value alone, or every value when the field is not filtered. */
function range(value: string | undefined): { from: string; to: string } {
  return value ? { from: value, to: value } : ANY;
}

function toEntry(entity: unknown): AuditEntry {
  const row = auditRowSchema.parse(entity);
  const changes = row.changes ? z.array(auditChangeSchema).safeParse(JSON.parse(row.changes)) : undefined;
  return {
    id: row.id,
    at: row.at,
    actor: { userId: row.actorUserId, name: row.actorName },
    action: row.action,
    resourceType: row.resourceType,
    resourceId: row.resourceId,
    ...(row.summary ? { summary: row.summary } : {}),
    ...(changes?.success ? { changes: changes.data } : {}),
  };
}

/** Deletes the entries older than the retention (`AUDIT_RETENTION_DAYS`); answers how many went. */
export async function deleteExpiredAudit(context: AppContext, options: OperationOptions = {}): Promise<number> {
  const cutoff = new Date(context.now().getTime() - context.config.auditRetentionDays * 86_400_000);
  const table = auditTable(context);
  const filter = odata`PartitionKey eq ${AUDIT_PARTITION} and RowKey gt ${auditRowKey(cutoff, '')}`;
  let deleted = 0;
  let batch: TransactionAction[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    await table.submitTransaction(batch, { abortSignal: options.abortSignal });
    deleted += batch.length;
    batch = [];
  };
  for await (const entity of table.listEntities({ queryOptions: { filter, select: ['RowKey'] }, abortSignal: options.abortSignal })) {
    batch.push(['delete', { partitionKey: AUDIT_PARTITION, rowKey: String(entity.rowKey) }]);
    if (batch.length === MAX_TRANSACTION_ACTIONS) await flush();
  }
  await flush();
  return deleted;
}
