import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';

/**
 * CDM folders as Dynamics 365 Customer Insights writes them to Blob Storage, for the tests, the
 * demo and the benchmark: per entity a timestamped folder of partition files
 * `<folder>/<Entity>/<yyyy>/<mm>/<dd>/<HHMM>/<Entity>_<n>.csv` (no header row by default, RFC 4180
 * quoting), and `<folder>/model.json` naming every entity, its attributes and its partitions by
 * absolute URL. And the `Microsoft.Storage.BlobCreated` event Event Grid would deliver to a storage
 * queue for a blob (Event Grid schema, base64-encoded JSON).
 */
export interface CdmEntityFixture {
  name: string;
  attributes: readonly string[];
  /** The records, as many values as attributes each. */
  rows: Iterable<readonly string[]> | AsyncIterable<readonly string[]>;
  /** How many partition files the records are spread over (in order). */
  partitions: number;
  /** `columnHeaders: true`: every partition starts with a header row. */
  columnHeaders?: boolean;
  /** Start every partition with a UTF-8 byte order mark, as .NET writers do. */
  bom?: boolean;
  /** End lines with CRLF. */
  crlf?: boolean;
  /** Leave out the final line break of every partition. */
  noFinalNewline?: boolean;
  /** Records per partition when `rows` is not an array (streamed); otherwise split evenly. */
  rowsPerPartition?: number;
}

export interface WriteCdmFolderOptions {
  /** The export folder (`CustomerInsights_<instance>/<ExportName>`), without a trailing slash. */
  folder: string;
  entities: readonly CdmEntityFixture[];
  /** The export's time: it names the timestamped folders. */
  at?: Date;
  /** Partitions to list in model.json but not to write (an export still being written). */
  skipPartitions?: readonly string[];
  /** Write the partitions only; model.json comes later (or never). */
  skipModel?: boolean;
}

export interface WrittenCdmFolder {
  modelPath: string;
  /** Per entity, its partition blob names in order. */
  partitions: Record<string, string[]>;
  model: ModelJson;
}

interface ModelJson {
  name: string;
  version: '1.0';
  modifiedTime: string;
  entities: unknown[];
}

/** Quotes a CSV field when it must be: a delimiter, a quote or a line break in it. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export async function writeCdmFolder(container: ContainerClient, options: WriteCdmFolderOptions): Promise<WrittenCdmFolder> {
  const at = options.at ?? new Date();
  const stamp = `${at.getUTCFullYear()}/${pad(at.getUTCMonth() + 1)}/${pad(at.getUTCDate())}/${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}`;
  await container.createIfNotExists();
  const partitions: Record<string, string[]> = {};
  const entities: unknown[] = [];
  for (const entity of options.entities) {
    const names = Array.from({ length: entity.partitions }, (_, i) => `${options.folder}/${entity.name}/${stamp}/${entity.name}_${i + 1}.csv`);
    partitions[entity.name] = names;
    await writePartitions(container, entity, names, new Set(options.skipPartitions ?? []));
    entities.push({
      $type: 'LocalEntity',
      name: entity.name,
      description: '',
      attributes: entity.attributes.map((name) => ({ name, dataType: 'string' })),
      partitions: names.map((blobName, i) => ({
        name: `${entity.name}_${i + 1}`,
        refreshTime: at.toISOString(),
        location: `${container.url}/${blobName.split('/').map(encodeURIComponent).join('/')}`,
        fileFormatSettings: { $type: 'CsvFormatSettings', columnHeaders: entity.columnHeaders ?? false, delimiter: ',', quoteStyle: 'QuoteStyle.Csv', csvStyle: 'CsvStyle.QuoteAlways', encoding: 'UTF-8' },
      })),
    });
  }
  const model: ModelJson = { name: 'CustomerInsights', version: '1.0', modifiedTime: at.toISOString(), entities };
  const modelPath = `${options.folder}/model.json`;
  if (!options.skipModel) await writeModel(container, modelPath, model);
  return { modelPath, partitions, model };
}

export async function writeModel(container: ContainerClient, modelPath: string, model: unknown): Promise<void> {
  const text = typeof model === 'string' ? model : JSON.stringify(model, null, 2);
  await container.getBlockBlobClient(modelPath).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' } });
}

async function writePartitions(container: ContainerClient, entity: CdmEntityFixture, names: readonly string[], skip: ReadonlySet<string>): Promise<void> {
  const rows = Array.isArray(entity.rows) ? (entity.rows as readonly (readonly string[])[]) : undefined;
  const perPartition = entity.rowsPerPartition ?? (rows ? Math.ceil(rows.length / names.length) : Number.POSITIVE_INFINITY);
  const source = entity.rows;
  const iterator: Iterator<readonly string[]> | AsyncIterator<readonly string[]> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  for (let p = 0; p < names.length; p++) {
    const last = p === names.length - 1;
    const body = partitionText(entity, iterator, last ? Number.POSITIVE_INFINITY : perPartition);
    if (skip.has(names[p]!)) {
      for await (const _ of body) void _;
      continue;
    }
    await container.getBlockBlobClient(names[p]!).uploadStream(Readable.from(body), 4 * 1024 * 1024, 4, { blobHTTPHeaders: { blobContentType: 'text/csv' } });
  }
}

async function* partitionText(entity: CdmEntityFixture, rows: Iterator<readonly string[]> | AsyncIterator<readonly string[]>, count: number): AsyncGenerator<Buffer> {
  const eol = entity.crlf ? '\r\n' : '\n';
  const lines: string[] = [];
  if (entity.bom) yield Buffer.from([0xef, 0xbb, 0xbf]);
  if (entity.columnHeaders) lines.push(entity.attributes.map(csvField).join(','));
  for (let n = 0; n < count; n++) {
    const next = await rows.next();
    if (next.done) break;
    lines.push(next.value.map(csvField).join(','));
    if (lines.length >= 2_000) {
      yield Buffer.from(lines.join(eol) + eol, 'utf8');
      lines.length = 0;
    }
  }
  const text = lines.join(eol);
  if (text !== '') yield Buffer.from(entity.noFinalNewline ? text : text + eol, 'utf8');
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** The event Event Grid sends for a blob that was created (Event Grid schema, one event per queue message). */
export async function blobCreatedEvent(container: ContainerClient, blobName: string): Promise<Record<string, unknown>> {
  const properties = await container.getBlobClient(blobName).getProperties();
  const account = container.accountName;
  return {
    topic: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ci/providers/Microsoft.Storage/storageAccounts/${account}`,
    subject: `/blobServices/default/containers/${container.containerName}/blobs/${blobName}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    id: randomUUID(),
    data: {
      api: 'PutBlockList',
      clientRequestId: randomUUID(),
      requestId: randomUUID(),
      eTag: properties.etag,
      contentType: properties.contentType ?? 'application/octet-stream',
      contentLength: properties.contentLength ?? 0,
      blobType: 'BlockBlob',
      url: `${container.url}/${blobName}`,
      sequencer: '0000000000000000000000000001a2b3000000000000abcd',
      storageDiagnostics: { batchId: randomUUID() },
    },
    dataVersion: '',
    metadataVersion: '1',
    eventTime: (properties.lastModified ?? new Date()).toISOString(),
  };
}

/** Puts an event on a queue as an Event Grid storage-queue subscription does: its JSON, base64-encoded. */
export async function deliverEvent(queue: QueueClient, event: unknown): Promise<void> {
  await queue.sendMessage(Buffer.from(JSON.stringify(event), 'utf8').toString('base64'));
}
