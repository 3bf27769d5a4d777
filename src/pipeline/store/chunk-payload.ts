// A chunk's records (its `ChunkOperation` as JSON) live in a property of its row when they are
// small (a table property holds 32K UTF-16 characters) or in a blob otherwise (claim check), gzipped
// (a fifth of the bytes: the storage account holds two runs of them, ten million profiles' worth
// each); queue messages only ever carry `{ runId, chunk }`.
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { AppContext } from '../../app/context';
import type { OperationOptions } from '../../app/operation';
import type { ChunkDoc } from '../../domain/run';

export const MAX_INLINE_PAYLOAD_CHARS = 30_000;
/** Fast over small: compressing in the thread pool, off the event loop the senders time their requests on. */
const GZIP_LEVEL = 1;
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export function chunkBlobName(runId: string, chunk: number): string {
  return `${runId}/${String(chunk).padStart(7, '0')}.json`;
}

/** Keeps a chunk's payload: inline when it is small, else in its blob (written again: replaced). Answers where it is. */
export async function storeChunkPayload(
  context: AppContext,
  runId: string,
  chunk: number,
  json: string,
  options: OperationOptions = {},
): Promise<Pick<ChunkDoc, 'payloadBlob' | 'payloadInline'>> {
  if (json.length <= MAX_INLINE_PAYLOAD_CHARS) return { payloadInline: json };
  const name = chunkBlobName(runId, chunk);
  const body = await gzipAsync(Buffer.from(json, 'utf8'), { level: GZIP_LEVEL });
  await context.storage
    .container(context.storage.names.containers.chunks)
    .getBlockBlobClient(name)
    .uploadData(body, { blobHTTPHeaders: { blobContentType: 'application/json', blobContentEncoding: 'gzip' }, abortSignal: options.abortSignal });
  return { payloadBlob: name };
}

/** The chunk's payload, parsed (not validated: the caller knows its schema). */
export async function readChunkPayload(context: AppContext, _runId: string, chunk: ChunkDoc, options: OperationOptions = {}): Promise<unknown> {
  if (chunk.payloadInline !== undefined) return JSON.parse(chunk.payloadInline) as unknown;
  if (!chunk.payloadBlob) throw new Error(`Chunk ${chunk.chunk} has no payload`);
  const blob = context.storage.container(context.storage.names.containers.chunks).getBlobClient(chunk.payloadBlob);
  const stored = await blob.downloadToBuffer(0, undefined, { abortSignal: options.abortSignal });
  // Payloads written before they were compressed are plain JSON, which never starts with gzip's magic bytes.
  const gzipped = stored.length >= 2 && stored[0] === 0x1f && stored[1] === 0x8b;
  const buffer = gzipped ? await gunzipAsync(stored) : stored;
  return JSON.parse(buffer.toString('utf8')) as unknown;
}

/** Removes a run's chunk blobs (nothing reads them any more), best effort: a blob that cannot be deleted is left. */
export async function deleteChunkPayloads(context: AppContext, runId: string, options: OperationOptions = {}): Promise<void> {
  const container = context.storage.container(context.storage.names.containers.chunks);
  for await (const blob of container.listBlobsFlat({ prefix: `${runId}/`, abortSignal: options.abortSignal })) {
    await container.deleteBlob(blob.name, { abortSignal: options.abortSignal }).catch(() => undefined);
  }
}
