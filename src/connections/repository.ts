import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import { connectionOptionsSchema, connectionSchema, type Connection } from '../domain/connection';
import { Errors } from '../errors';
import { providerNameSchema } from '../providers/types';

/**
 * The connections table: one row per connection in a single partition (connections are few, and
 * listing them is one query). Rows are validated on the way in and out; updates carry the ETag
 * so that two concurrent changes cannot silently overwrite each other.
 */
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

export interface StoredConnection {
  connection: Connection;
  etag: string;
}

export interface RepositoryOptions {
  abortSignal?: AbortSignal;
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

export async function insertConnection(context: AppContext, connection: Connection, options: RepositoryOptions = {}): Promise<void> {
  try {
    await connectionsTable(context).createEntity(toRow(connection), { abortSignal: options.abortSignal });
  } catch (error) {
    if (statusOf(error) === 409) throw Errors.conflict(`A connection with id '${connection.id}' already exists`);
    throw error;
  }
}

export async function getConnection(
  context: AppContext,
  connectionId: string,
  options: RepositoryOptions = {},
): Promise<StoredConnection | undefined> {
  try {
    const entity = await connectionsTable(context).getEntity(CONNECTIONS_PARTITION, connectionId, { abortSignal: options.abortSignal });
    return { connection: fromRow(entity), etag: entity.etag };
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

export async function* listConnections(context: AppContext, options: RepositoryOptions = {}): AsyncGenerator<Connection> {
  const entities = connectionsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${CONNECTIONS_PARTITION}` },
    abortSignal: options.abortSignal,
  });
  for await (const entity of entities) yield fromRow(entity);
}

/** Replaces the row if nobody changed it since `etag` was read; 409 `conflict` otherwise. */
export async function replaceConnection(
  context: AppContext,
  connection: Connection,
  etag: string,
  options: RepositoryOptions = {},
): Promise<void> {
  try {
    await connectionsTable(context).updateEntity(toRow(connection), 'Replace', { etag, abortSignal: options.abortSignal });
  } catch (error) {
    const status = statusOf(error);
    if (status === 412 || status === 404) {
      throw Errors.conflict(`Connection '${connection.id}' changed or was deleted while this request ran; read it again and retry`);
    }
    throw error;
  }
}

/** Deletes the row; succeeds when it is already gone. */
export async function deleteConnectionRow(context: AppContext, connectionId: string, options: RepositoryOptions = {}): Promise<void> {
  try {
    await connectionsTable(context).deleteEntity(CONNECTIONS_PARTITION, connectionId, { abortSignal: options.abortSignal });
  } catch (error) {
    if (statusOf(error) === 404) return;
    throw error;
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
