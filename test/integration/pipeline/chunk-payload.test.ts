import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { ChunkDoc } from '../../../src/domain/run';
import { chunkBlobName, MAX_INLINE_PAYLOAD_CHARS, readChunkPayload, storeChunkPayload } from '../../../src/pipeline/store/chunk-payload';
import { createTestContext } from '../../support/context';

const row = (chunk: number, stored: Pick<ChunkDoc, 'payloadBlob' | 'payloadInline'>): ChunkDoc => ({ chunk, targetKey: 't', kind: 'upsert', records: 1, status: 'pending', steps: 0, rejected: 0, ...stored });

describe('chunk payloads', () => {
  it('keep a large payload in a gzipped blob (a fraction of its bytes) and read it back intact', async () => {
    const context = await createTestContext();
    const records = Array.from({ length: 2000 }, (_, i) => ({ email: `person${i}@example.com`, fields: { firstName: `Zoë ${i}`, city: 'Łódź' }, isNew: true }));
    const json = JSON.stringify({ kind: 'upsert', target: { kind: 'list', id: 1 }, records });
    expect(json.length).toBeGreaterThan(MAX_INLINE_PAYLOAD_CHARS);
    const stored = await storeChunkPayload(context, 'run-gz', 4, json);
    expect(stored).toEqual({ payloadBlob: chunkBlobName('run-gz', 4) });
    const blob = context.storage.container(context.storage.names.containers.chunks).getBlobClient(stored.payloadBlob!);
    const bytes = await blob.downloadToBuffer();
    expect(bytes.length).toBeLessThan(Buffer.byteLength(json) / 4);
    expect(gunzipSync(bytes).toString('utf8')).toBe(json);
    expect((await blob.getProperties()).contentEncoding).toBe('gzip');
    expect(await readChunkPayload(context, 'run-gz', row(4, stored))).toEqual(JSON.parse(json));
  });

  it('still reads a payload blob stored as plain JSON (written before payloads were compressed)', async () => {
    const context = await createTestContext();
    const operation = { kind: 'remove', target: { kind: 'list', id: 1 }, emails: ['a@example.com'] };
    const name = chunkBlobName('run-plain', 0);
    await context.storage.container(context.storage.names.containers.chunks).getBlockBlobClient(name).uploadData(Buffer.from(JSON.stringify(operation)));
    expect(await readChunkPayload(context, 'run-plain', row(0, { payloadBlob: name }))).toEqual(operation);
  });
});
