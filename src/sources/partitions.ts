// The partitions of an export, opened one at a time in order, each read only while it still has
// the ETag the completeness check saw: a partition replaced half-way fails the ingestion (which
// then changes nothing) instead of mixing two exports.
import type { ContainerClient } from '@azure/storage-blob';
import type { OperationOptions } from '../app/operation';
import type { BlobState } from './completeness';

export interface SourcePart {
  name: string;
  body: AsyncIterable<Uint8Array>;
  headerRow: boolean;
}

/** The SDK resumes a download that breaks off this many times before giving up. */
const MAX_RETRY_REQUESTS = 5;

export async function* openParts(
  container: ContainerClient,
  partitions: readonly (BlobState & { headerRow: boolean })[],
  options: OperationOptions = {},
): AsyncGenerator<SourcePart> {
  for (const partition of partitions) {
    yield { name: partition.blobName, headerRow: partition.headerRow, body: openPartition(container, partition, options) };
  }
}

/** A partition's bytes, asked for only when the ingestion starts reading it. */
export async function* openPartition(container: ContainerClient, partition: BlobState, options: OperationOptions = {}): AsyncGenerator<Uint8Array> {
  if (partition.size === 0) return;
  const response = await container.getBlobClient(partition.blobName).download(0, undefined, {
    conditions: { ifMatch: partition.etag },
    maxRetryRequests: MAX_RETRY_REQUESTS,
    abortSignal: options.abortSignal,
  });
  if (!response.readableStreamBody) throw new Error(`No body for ${partition.blobName}`);
  for await (const chunk of response.readableStreamBody) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk);
}
