// The storage clients of one account (tables, queues, blobs), from a connection string (Azurite,
// account keys) or an identity, and `ensureStorage`, which creates what a fresh account lacks.
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import type { StorageConfig } from '../config';
import { DEV_PORTS, developmentConnectionString } from './development';
import { allQueueNames, type StorageNames } from './names';

/** Clients for one storage account: connection string (Azurite, keys) or identity-based. */
export interface StorageClients {
  readonly names: StorageNames;
  table(name: string): TableClient;
  queue(name: string): QueueClient;
  container(name: string): ContainerClient;
  readonly tableService: TableServiceClient;
  readonly queueService: QueueServiceClient;
  readonly blobService: BlobServiceClient;
}

export function createStorageClients(config: StorageConfig, names: StorageNames, credential?: TokenCredential): StorageClients {
  if (config.kind === 'connectionString') {
    const connectionString = expandDevelopmentStorage(config.connectionString);
    const insecure = /DefaultEndpointsProtocol=http;|Endpoint=http:/i.test(connectionString);
    const tableService = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: insecure });
    return build(
      names,
      tableService,
      QueueServiceClient.fromConnectionString(connectionString),
      BlobServiceClient.fromConnectionString(connectionString),
      (name) => TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: insecure }),
    );
  }
  const tokenCredential =
    credential ?? new DefaultAzureCredential(config.clientId ? { managedIdentityClientId: config.clientId } : {});
  return build(
    names,
    new TableServiceClient(config.tableServiceUri, tokenCredential),
    new QueueServiceClient(config.queueServiceUri, tokenCredential),
    new BlobServiceClient(config.blobServiceUri, tokenCredential),
    (name) => new TableClient(config.tableServiceUri, name, tokenCredential),
  );
}

function build(
  names: StorageNames,
  tableService: TableServiceClient,
  queueService: QueueServiceClient,
  blobService: BlobServiceClient,
  tableClient: (name: string) => TableClient,
): StorageClients {
  const tables = new Map<string, TableClient>();
  return {
    names,
    tableService,
    queueService,
    blobService,
    table: (name) => {
      let client = tables.get(name);
      if (!client) {
        client = tableClient(name);
        tables.set(name, client);
      }
      return client;
    },
    queue: (name) => queueService.getQueueClient(name),
    container: (name) => blobService.getContainerClient(name),
  };
}

/** `UseDevelopmentStorage=true` spelled out, so every SDK reads it the same way. */
export function expandDevelopmentStorage(connectionString: string): string {
  return connectionString.trim() === 'UseDevelopmentStorage=true'
    ? developmentConnectionString(DEV_PORTS)
    : connectionString;
}

/**
 * Creates every queue, table and container the app uses. In Azure the template does this; locally
 * and in tests the app does it at start so that a fresh Azurite works.
 */
export async function ensureStorage(clients: StorageClients): Promise<void> {
  const { names } = clients;
  await Promise.all([
    ...allQueueNames(names).map((queue) => clients.queue(queue).createIfNotExists()),
    ...Object.values(names.tables).map((table) => createTableIfNotExists(clients.table(table))),
    ...Object.values(names.containers).map((container) => clients.container(container).createIfNotExists()),
  ]);
}

async function createTableIfNotExists(client: TableClient): Promise<void> {
  // TableClient.createTable already tolerates "TableAlreadyExists".
  await client.createTable();
}
