import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SEGMENT_LIMITS } from '../../../src/domain/segment';
import { encodeRow, parseStoredLines } from '../../../src/segments/codec';
import { createUploadDecoder } from '../../../src/segments/upload-decoder';
import { chunksOf, generatedCsv } from './csv-arbitrary';

describe('CSV decoding and the stored form', () => {
  it('give back every generated row, whatever the quoting, line ends, BOM and chunking', () => {
    fc.assert(
      fc.property(generatedCsv, (csv) => {
        const decoder = createUploadDecoder('csv', { keyField: csv.header[0], limits: DEFAULT_SEGMENT_LIMITS });
        const text = new TextDecoder('utf-8', { fatal: true });
        const rows: string[][] = [];
        for (const chunk of chunksOf(csv)) rows.push(...decoder.push(text.decode(chunk, { stream: true })).rows);
        rows.push(...decoder.push(text.decode()).rows, ...decoder.end().rows);

        expect(decoder.fields).toEqual(csv.header);
        expect(rows).toEqual(csv.rows);
        const stored = rows.map(encodeRow).join('');
        expect(parseStoredLines(stored.slice(0, -1))).toEqual(csv.rows);
      }),
      { numRuns: 500 },
    );
  });
});
