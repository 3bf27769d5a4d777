// The one set of Table storage helpers every repository uses: what a failed call means (not found,
// precondition failed, already exists, a lost transaction), read-or-undefined, create-if-absent,
// delete-if-exists (also under an ETag, and a whole partition) and replace-if-unchanged. The
// status checks read `statusCode`, so they serve Blob storage errors too.
import { odata, type TableClient, type TableEntity } from '@azure/data-tables';
import type { z } from 'zod';
import type { OperationOptions } from '../app/operation';

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The entity (or table) does not exist. */
export function isNotFound(error: unknown): boolean {
  return statusOf(error) === 404;
}

/** The entity changed since it was read (its ETag no longer matches). */
export function isPreconditionFailed(error: unknown): boolean {
  return statusOf(error) === 412;
}

/** An insert found the entity already there. */
export function isAlreadyExists(error: unknown): boolean {
  return statusOf(error) === 409;
}

/**
 * A batch (entity-group transaction) lost a race: one of its conditional operations found a changed
 * or existing entity. Azurite and Azure word this differently, so the message is read too.
 */
export function isTransactionConflict(error: unknown): boolean {
  if (isPreconditionFailed(error) || isAlreadyExists(error)) return true;
  const message = error instanceof Error ? error.message : '';
  return /UpdateConditionNotSatisfied|ConditionNotMet|precondition/i.test(message);
}

/** Reads one entity and validates it, or undefined when it does not exist. */
export async function getEntity<T extends z.ZodType>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  schema: T,
  options: OperationOptions = {},
): Promise<z.infer<T> | undefined> {
  try {
    return schema.parse(await table.getEntity(partitionKey, rowKey, { abortSignal: options.abortSignal }));
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Inserts an entity; false when one with its keys exists already. */
export async function createEntityIfAbsent(table: TableClient, entity: TableEntity, options: OperationOptions = {}): Promise<boolean> {
  try {
    await table.createEntity(entity, { abortSignal: options.abortSignal });
    return true;
  } catch (error) {
    if (isAlreadyExists(error)) return false;
    throw error;
  }
}

/** Deletes an entity; succeeds when it is already gone. */
export async function deleteEntity(table: TableClient, partitionKey: string, rowKey: string, options: OperationOptions & { etag?: string } = {}): Promise<void> {
  try {
    await table.deleteEntity(partitionKey, rowKey, { abortSignal: options.abortSignal, etag: options.etag });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * Deletes an entity under the ETag it was read with; succeeds when it is already gone. Answers
 * false when someone changed it meanwhile (it was kept).
 */
export async function deleteEntityIfUnchanged(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  etag: string,
  options: OperationOptions = {},
): Promise<boolean> {
  try {
    await table.deleteEntity(partitionKey, rowKey, { abortSignal: options.abortSignal, etag });
    return true;
  } catch (error) {
    if (isNotFound(error)) return true;
    if (isPreconditionFailed(error)) return false;
    throw error;
  }
}

/**
 * Writes an entity under the ETag it was read with (`Replace` or `Merge`); answers the new ETag, or
 * undefined when someone changed (or deleted) it meanwhile.
 */
export async function replaceEntityIfUnchanged(
  table: TableClient,
  entity: TableEntity,
  etag: string,
  options: OperationOptions & { mode?: 'Replace' | 'Merge' } = {},
): Promise<string | undefined> {
  try {
    const response = await table.updateEntity(entity, options.mode ?? 'Replace', { etag, abortSignal: options.abortSignal });
    return response.etag ?? '';
  } catch (error) {
    if (isPreconditionFailed(error) || isNotFound(error)) return undefined;
    throw error;
  }
}

/** Deletes every entity of a partition (a few rows: one request each). */
export async function deletePartition(table: TableClient, partitionKey: string, options: OperationOptions = {}): Promise<void> {
  const filter = odata`PartitionKey eq ${partitionKey}`;
  for await (const entity of table.listEntities({ queryOptions: { filter, select: ['RowKey'] }, abortSignal: options.abortSignal })) {
    await deleteEntity(table, partitionKey, String(entity.rowKey), options);
  }
}
