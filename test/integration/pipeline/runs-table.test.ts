import { describe, expect, it } from 'vitest';
import type { ChunkDoc } from '../../../src/domain/run';
import { MAX_INLINE_PAYLOAD_CHARS } from '../../../src/pipeline/store/chunk-payload';
import { getChunkDoc, upsertChunkDocs, listChunkDocs } from '../../../src/pipeline/store/runs-table';
import { createTestContext } from '../../support/context';

describe('chunk rows', () => {
  it('keep an inline payload of the largest size, full of quotes and non-ASCII text, intact', async () => {
    const context = await createTestContext();
    const payload = `["${'"ł\\'.repeat(Math.floor((MAX_INLINE_PAYLOAD_CHARS - 4) / 3))}"]`.slice(0, MAX_INLINE_PAYLOAD_CHARS);
    const chunk: ChunkDoc = { chunk: 3, targetKey: 't', kind: 'upsert', records: 1, status: 'pending', payloadInline: payload, steps: 0, rejected: 0 };
    await upsertChunkDocs(context, 'run-a', [chunk]);
    expect((await getChunkDoc(context, 'run-a', 3))?.value.payloadInline).toBe(payload);
    const listed: ChunkDoc[] = [];
    for await (const row of listChunkDocs(context, 'run-a')) listed.push(row);
    expect(listed).toEqual([chunk]);
  });
});
