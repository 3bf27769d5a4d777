// The sources table: source documents (changed under their ETag), each source's last scan, and
// per entity its ingestion state. A scan claims an entity before ingesting it (a lease on the row,
// taken under the row's ETag), so two scans at once (an event and the timer) ingest a file once.
import { odata } from '@azure/data-tables';
import type { z } from 'zod';
import type { AppContext } from '../app/context';
import { sourceSchema, type Source, type SourceEntityStatus, type SourceFile, type SourceScanStatus } from '../domain/source';
import { Errors } from '../errors';
import {
  createEntityIfAbsent,
  deleteEntity,
  deletePartition,
  getEntity,
  isAlreadyExists,
  isNotFound,
  replaceEntityIfUnchanged,
} from '../storage/tables';
import type { OperationOptions } from '../app/operation';
import { decideEntity, fileKey, type EntityDecision, type EntityState } from './decide';
import { entityPartition, entityRowKey, entityRowSchema, sourceRowSchema, SOURCES_PARTITION, sourcesTable, type EntityRow } from './table';

export interface StoredSource {
  source: Source;
  scan: SourceScanStatus | undefined;
  etag: string;
}

function fromSourceRow(row: z.infer<typeof sourceRowSchema>): StoredSource {
  return { source: sourceSchema.parse(JSON.parse(row.doc)), scan: row.scan, etag: row.etag ?? '*' };
}

function toSourceEntity(source: Source) {
  return { partitionKey: SOURCES_PARTITION, rowKey: source.id, doc: JSON.stringify(sourceSchema.parse(source)) };
}

export async function getSource(context: AppContext, sourceId: string, options: OperationOptions = {}): Promise<StoredSource | undefined> {
  const entity = await getEntity(sourcesTable(context), SOURCES_PARTITION, sourceId, sourceRowSchema, options);
  return entity && fromSourceRow(entity);
}

export async function* listSources(context: AppContext, options: OperationOptions = {}): AsyncGenerator<StoredSource> {
  const filter = odata`PartitionKey eq ${SOURCES_PARTITION}`;
  for await (const entity of sourcesTable(context).listEntities({ queryOptions: { filter }, abortSignal: options.abortSignal })) {
    yield fromSourceRow(sourceRowSchema.parse(entity));
  }
}

export async function insertSource(context: AppContext, source: Source, options: OperationOptions = {}): Promise<void> {
  if (!(await createEntityIfAbsent(sourcesTable(context), toSourceEntity(source), options))) {
    throw Errors.conflict(`A source with id '${source.id}' already exists`);
  }
}

/** Replaces the document under the ETag it was read with; 409 when it changed meanwhile. */
export async function replaceSource(context: AppContext, stored: StoredSource, source: Source, options: OperationOptions = {}): Promise<void> {
  const written = await replaceEntityIfUnchanged(sourcesTable(context), toSourceEntity(source), stored.etag, { ...options, mode: 'Merge' });
  if (written === undefined) throw Errors.conflict(`Source '${source.id}' changed or was deleted while this request ran; read it again and retry`);
}

/** Deletes the source and its entity states; its segments stay. Deleting a missing source succeeds. */
export async function deleteSourceRows(context: AppContext, sourceId: string, options: OperationOptions = {}): Promise<void> {
  await deleteEntity(sourcesTable(context), SOURCES_PARTITION, sourceId, options);
  await deletePartition(sourcesTable(context), entityPartition(sourceId), options);
}

/** Forgets every entity's state: a source that reads another folder, or maps entities anew, starts afresh. */
export async function resetEntityStates(context: AppContext, sourceId: string, options: OperationOptions = {}): Promise<void> {
  await deletePartition(sourcesTable(context), entityPartition(sourceId), options);
}

/** Records what the last scan found about the folder itself; a source deleted meanwhile stays deleted. */
export async function recordScan(context: AppContext, sourceId: string, scan: SourceScanStatus, options: OperationOptions = {}): Promise<void> {
  try {
    const entity = { partitionKey: SOURCES_PARTITION, rowKey: sourceId, scan: JSON.stringify(scan) };
    await sourcesTable(context).updateEntity(entity, 'Merge', { etag: '*', abortSignal: options.abortSignal });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** Every entity state of a source, by entity name. */
export async function listEntityStates(context: AppContext, sourceId: string, options: OperationOptions = {}): Promise<Map<string, EntityRow>> {
  const states = new Map<string, EntityRow>();
  const filter = odata`PartitionKey eq ${entityPartition(sourceId)}`;
  for await (const entity of sourcesTable(context).listEntities({ queryOptions: { filter }, abortSignal: options.abortSignal })) {
    const row = entityRowSchema.parse(entity);
    states.set(row.entity, row);
  }
  return states;
}

export function toEntityStatus(row: EntityRow): SourceEntityStatus {
  const status: SourceEntityStatus = { entity: row.entity, segmentId: row.segmentId };
  if (row.lastIngested) status.lastIngested = row.lastIngested;
  if (row.waiting) status.waiting = row.waiting;
  if (row.lastError) status.lastError = row.lastError;
  return status;
}

function toEntityState(row: EntityRow | undefined): EntityState | undefined {
  if (!row) return undefined;
  return {
    lastIngested: row.lastIngested,
    lastError: row.lastError && { key: fileKey({ path: row.lastError.path, etag: row.lastError.etag ?? '' }), willRetry: row.lastError.willRetry },
    claim: row.claimKey && row.claimedAt ? { key: row.claimKey, since: row.claimedAt } : undefined,
  };
}

/** An entity a scan may ingest: the claim it holds on the row. */
export interface EntityClaim {
  sourceId: string;
  entity: string;
  segmentId: string;
  file: SourceFile;
  etag: string;
  row: EntityRow | undefined;
}

const MAX_CLAIM_ATTEMPTS = 5;

/** Decides about the entity and, when the answer is to ingest, takes the claim; a race reads and decides again. */
export async function claimEntity(
  context: AppContext,
  target: { sourceId: string; entity: string; segmentId: string; file: SourceFile },
  options: OperationOptions = {},
): Promise<{ decision: EntityDecision; claim?: EntityClaim }> {
  const table = sourcesTable(context);
  const partitionKey = entityPartition(target.sourceId);
  const rowKey = entityRowKey(target.entity);
  for (let attempt = 1; ; attempt++) {
    const row = await getEntity(table, partitionKey, rowKey, entityRowSchema, options);
    const now = context.now();
    const decision = decideEntity(toEntityState(row), target.file, now);
    if (decision.action !== 'ingest') return { decision };
    const claimed = { partitionKey, rowKey, entity: target.entity, segmentId: target.segmentId, claimKey: fileKey(target.file), claimedAt: now.toISOString() };
    const etag = row
      ? await replaceEntityIfUnchanged(table, claimed, row.etag ?? '*', { ...options, mode: 'Merge' })
      : await createClaimRow(context, claimed, options);
    if (etag !== undefined) return { decision, claim: { ...target, etag, row } };
    if (attempt >= MAX_CLAIM_ATTEMPTS) return { decision: { action: 'busy', key: fileKey(target.file) } };
  }
}

async function createClaimRow(context: AppContext, entity: Record<string, string> & { partitionKey: string; rowKey: string }, options: OperationOptions): Promise<string | undefined> {
  try {
    const response = await sourcesTable(context).createEntity(entity, { abortSignal: options.abortSignal });
    return response.etag ?? '*';
  } catch (error) {
    if (isAlreadyExists(error)) return undefined;
    throw error;
  }
}

export type EntityOutcome =
  | { kind: 'ingested'; ingested: NonNullable<SourceEntityStatus['lastIngested']> }
  | { kind: 'waiting'; waiting: NonNullable<SourceEntityStatus['waiting']> }
  | { kind: 'failed'; error: NonNullable<SourceEntityStatus['lastError']> };

/**
 * Ends a claim with its outcome, under the claim's ETag: when the lease ran out and another scan
 * took the entity, its write stands and this one is dropped (false).
 */
export async function releaseClaim(context: AppContext, claim: EntityClaim, outcome: EntityOutcome, options: OperationOptions = {}): Promise<boolean> {
  const entity: Record<string, string> & { partitionKey: string; rowKey: string } = {
    partitionKey: entityPartition(claim.sourceId),
    rowKey: entityRowKey(claim.entity),
    segmentId: claim.segmentId,
    claimKey: '',
    claimedAt: '',
  };
  if (outcome.kind === 'ingested') Object.assign(entity, { lastIngested: JSON.stringify(outcome.ingested), waiting: '', lastError: '' });
  if (outcome.kind === 'waiting') entity.waiting = JSON.stringify(outcome.waiting);
  if (outcome.kind === 'failed') Object.assign(entity, { lastError: JSON.stringify(outcome.error), waiting: '' });
  return (await replaceEntityIfUnchanged(sourcesTable(context), entity, claim.etag, { ...options, mode: 'Merge' })) !== undefined;
}

/** Records the runs an ingested version started, unless a newer ingestion replaced the row meanwhile. */
export async function recordRunsStarted(
  context: AppContext,
  sourceId: string,
  row: EntityRow,
  runs: readonly { exportId: string; runId: string }[],
  options: OperationOptions = {},
): Promise<boolean> {
  if (!row.lastIngested) return false;
  const entity = {
    partitionKey: entityPartition(sourceId),
    rowKey: entityRowKey(row.entity),
    lastIngested: JSON.stringify({ ...row.lastIngested, runs }),
  };
  return (await replaceEntityIfUnchanged(sourcesTable(context), entity, row.etag ?? '*', { ...options, mode: 'Merge' })) !== undefined;
}
