// The connections table: one row per connection in a single partition (connections are few, and
// listing them is one query). Rows are validated on the way in and out; a replace carries the
// ETag so that two concurrent changes cannot silently overwrite each other.
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { connectionOptionsSchema, connectionSchema, type Connection } from '../domain/connection';
import { Errors } from '../errors';
import { providerNameSchema } from '../providers/types';
import { deleteEntity, getEntity, isAlreadyExists, replaceEntityIfUnchanged } from '../storage/tables';

export const CONNECTIONS_PARTITION = 'connection';

export const connectionRowSchema = z.object({
  partitionKey: z.literal(CONNECTIONS_PARTITION),
  rowKey: z.string(),
  displayName: z.string(),
  provider: providerNameSchema,
  allowContributors: z.boolean(),
  /** JSON of the connection's options. */
  options: z.string(),
  secretName: z.string(),
  secretVersion: z.string(),
  consentAcceptedBy: z.string(),
  consentAcceptedByUserId: z.string(),
  consentAcceptedAt: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type ConnectionRow = z.infer<typeof connectionRowSchema>;
const storedRowSchema = connectionRowSchema.extend({ etag: z.string() });

export interface StoredConnection {
  connection: Connection;
  etag: string;
}

export function toRow(connection: Connection): ConnectionRow {
  return {
    partitionKey: CONNECTIONS_PARTITION,
    rowKey: connection.id,
    displayName: connection.displayName,
    provider: connection.provider,
    allowContributors: connection.allowContributors,
    options: JSON.stringify(connection.options),
    secretName: connection.secretName,
    secretVersion: connection.secretVersion,
    consentAcceptedBy: connection.consent.acceptedBy,
    consentAcceptedByUserId: connection.consent.acceptedByUserId,
    consentAcceptedAt: connection.consent.acceptedAt,
    createdAt: connection.createdAt,
    createdBy: connection.createdBy,
    updatedAt: connection.updatedAt,
    updatedBy: connection.updatedBy,
  };
}

export function fromRow(entity: unknown): Connection {
  const row = connectionRowSchema.parse(entity);
  return connectionSchema.parse({
    id: row.rowKey,
    displayName: row.displayName,
    provider: row.provider,
    allowContributors: row.allowContributors,
    options: connectionOptionsSchema.parse(JSON.parse(row.options)),
    secretName: row.secretName,
    secretVersion: row.secretVersion,
    consent: { acceptedBy: row.consentAcceptedBy, acceptedByUserId: row.consentAcceptedByUserId, acceptedAt: row.consentAcceptedAt },
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    updatedAt: row.updatedAt,
    updatedBy: row.updatedBy,
  });
}

export function connectionsTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.connections);
}

/** Creates the row; 409 `conflict` when a connection with its id exists. */
export async function createConnectionRow(context: AppContext, connection: Connection, options: OperationOptions = {}): Promise<void> {
  try {
    await connectionsTable(context).createEntity(toRow(connection), { abortSignal: options.abortSignal });
  } catch (error) {
    if (isAlreadyExists(error)) throw Errors.conflict(`A connection with id '${connection.id}' already exists`);
    throw error;
  }
}

/** The connection with the ETag it was read with, or undefined when it does not exist. */
export async function getConnection(
  context: AppContext,
  connectionId: string,
  options: OperationOptions = {},
): Promise<StoredConnection | undefined> {
  const row = await getEntity(connectionsTable(context), CONNECTIONS_PARTITION, connectionId, storedRowSchema, options);
  return row && { connection: fromRow(row), etag: row.etag };
}

/** Every connection, in row-key order. */
export async function* listConnections(context: AppContext, options: OperationOptions = {}): AsyncGenerator<Connection> {
  const entities = connectionsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${CONNECTIONS_PARTITION}` },
    abortSignal: options.abortSignal,
  });
  for await (const entity of entities) yield fromRow(entity);
}

/** Replaces the row if nobody changed it since `etag` was read; 409 `conflict` otherwise. */
export async function replaceConnectionRow(
  context: AppContext,
  connection: Connection,
  etag: string,
  options: OperationOptions = {},
): Promise<void> {
  const replaced = await replaceEntityIfUnchanged(connectionsTable(context), toRow(connection), etag, options);
  if (replaced === undefined) {
    throw Errors.conflict(`Connection '${connection.id}' changed or was deleted while this request ran; read it again and retry`);
  }
}

/** Deletes the row; succeeds when it is already gone. */
export async function deleteConnectionRow(context: AppContext, connectionId: string, options: OperationOptions = {}): Promise<void> {
  await deleteEntity(connectionsTable(context), CONNECTIONS_PARTITION, connectionId, options);
}
