import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestSegment } from '../../../src/segments/ingest';
import { requireSegment } from '../../../src/segments/repository';
import { createTestContext, type TestContext } from '../../support/context';
import { chunksOf, expectedMembers, generatedCsv } from '../../unit/segments/csv-arbitrary';
import { readAll } from './helpers';

let context: TestContext;

beforeAll(async () => {
  context = await createTestContext();
});

describe('a generated CSV upload', () => {
  it('round-trips through ingestion, Blob storage and the reader', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(generatedCsv, async (csv) => {
        const segmentId = `p${run++}`;
        async function* body() {
          yield* chunksOf(csv);
        }
        const result = await ingestSegment(context, { segmentId, format: 'csv', keyField: csv.header[0], body: body(), uploadedBy: 'property' });

        const expected = expectedMembers(csv);
        expect(result).toMatchObject({ fields: csv.header, keyField: csv.header[0], memberCount: expected.length });
        expect(result.duplicateKeys.count).toBe(csv.rows.length - expected.length);
        expect(await readAll(context, segmentId, result.version)).toEqual(expected);
        expect((await requireSegment(context, segmentId)).version).toBe(result.version);
      }),
      { numRuns: 40 },
    );
  });
});
