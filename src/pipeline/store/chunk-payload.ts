import type { AppContext } from '../../app/context';
import type { ChunkDoc } from '../../domain/run';

/**
 * A chunk's records live in a property of its row (small chunks: a table property holds 32K
 * UTF-16 characters) or in a
 * blob (claim check); queue messages only ever carry `{ runId, chunk }`.
 */
export const MAX_INLINE_PAYLOAD_CHARS = 30_000;

export function chunkBlobName(runId: string, chunk: number): string {
  return `${runId}/${String(chunk).padStart(7, '0')}.json`;
}

export async function storeChunkPayload(
  context: AppContext,
  runId: string,
  chunk: number,
  json: string,
): Promise<Pick<ChunkDoc, 'payloadBlob' | 'payloadInline'>> {
  if (json.length <= MAX_INLINE_PAYLOAD_CHARS) return { payloadInline: json };
  const name = chunkBlobName(runId, chunk);
  const body = Buffer.from(json, 'utf8');
  await context.storage
    .container(context.storage.names.containers.chunks)
    .getBlockBlobClient(name)
    .uploadData(body, { blobHTTPHeaders: { blobContentType: 'application/json' } });
  return { payloadBlob: name };
}

export async function readChunkPayload(context: AppContext, _runId: string, chunk: ChunkDoc): Promise<unknown> {
  if (chunk.payloadInline !== undefined) return JSON.parse(chunk.payloadInline) as unknown;
  if (!chunk.payloadBlob) throw new Error(`Chunk ${chunk.chunk} has no payload`);
  const buffer = await context.storage.container(context.storage.names.containers.chunks).getBlobClient(chunk.payloadBlob).downloadToBuffer();
  return JSON.parse(buffer.toString('utf8')) as unknown;
}

/** Removes a run's chunk blobs (the run is gone). */
export async function deleteChunkPayloads(context: AppContext, runId: string): Promise<void> {
  const container = context.storage.container(context.storage.names.containers.chunks);
  for await (const blob of container.listBlobsFlat({ prefix: `${runId}/` })) {
    await container.deleteBlob(blob.name).catch(() => undefined);
  }
}
