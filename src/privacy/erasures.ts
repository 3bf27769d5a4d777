// The erasures table: one row per erasure (its document, as JSON), replaced under its ETag.
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { erasureDocSchema, type ErasureDoc } from '../domain/privacy';
import { getEntity, replaceEntityIfUnchanged } from '../storage/tables';

const ROW = 'erasure';
const rowSchema = z.object({ doc: z.string(), etag: z.string() });

export interface StoredErasure {
  doc: ErasureDoc;
  etag: string;
}

function erasuresTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.erasures);
}

export async function createErasureRow(context: AppContext, doc: ErasureDoc, options: OperationOptions = {}): Promise<void> {
  await erasuresTable(context).createEntity({ partitionKey: doc.erasureId, rowKey: ROW, doc: JSON.stringify(erasureDocSchema.parse(doc)) }, { abortSignal: options.abortSignal });
}

export async function getErasure(context: AppContext, erasureId: string, options: OperationOptions = {}): Promise<StoredErasure | undefined> {
  const row = await getEntity(erasuresTable(context), erasureId, ROW, rowSchema, options);
  return row && { doc: erasureDocSchema.parse(JSON.parse(row.doc)), etag: row.etag };
}

/** Replaces the document under its ETag; the new ETag, or undefined when it changed meanwhile. */
export async function replaceErasure(context: AppContext, stored: StoredErasure, doc: ErasureDoc, options: OperationOptions = {}): Promise<string | undefined> {
  return await replaceEntityIfUnchanged(erasuresTable(context), { partitionKey: doc.erasureId, rowKey: ROW, doc: JSON.stringify(erasureDocSchema.parse(doc)) }, stored.etag, options);
}
