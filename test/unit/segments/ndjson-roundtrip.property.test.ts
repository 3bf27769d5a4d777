import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SEGMENT_LIMITS } from '../../../src/domain/segment';
import { NdjsonParser, type FlatRecord } from '../../../src/segments/ndjson-parser';

const text = fc.string({ unit: 'binary', maxLength: 12 });
const jsonValue = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
const flatObject = fc.uniqueArray(fc.tuple(text, jsonValue), { selector: ([name]) => name, maxLength: 6 });

/** What the parser must give for a value that `JSON.stringify` wrote. */
const asText = (value: string | number | boolean | null): string => (value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value));

describe('NdjsonParser', () => {
  it('gives back every generated object, whatever the spacing and chunking', () => {
    fc.assert(
      fc.property(
        fc.array(flatObject, { minLength: 1, maxLength: 8 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 6 }),
        (objects, lineEnd, spaced, cuts) => {
          const lines = objects.map((entries) => JSON.stringify(Object.fromEntries(entries), null, spaced ? 1 : undefined).replaceAll('\n', ' '));
          const upload = lines.join(lineEnd);
          const parser = new NdjsonParser(DEFAULT_SEGMENT_LIMITS);
          const bounds = [0, ...cuts.map((cut) => cut % (upload.length + 1)).sort((a, b) => a - b), upload.length];
          const records: FlatRecord[] = [];
          for (let i = 1; i < bounds.length; i++) {
            parser.push(upload.slice(bounds[i - 1], bounds[i]));
            records.push(...parser.take().records);
          }
          parser.end();
          records.push(...parser.take().records);

          expect(records).toEqual(
            objects.map((entries) => {
              // Object.fromEntries orders integer-like names first, as JSON.stringify then writes them.
              const written = Object.entries(Object.fromEntries(entries));
              return { names: written.map(([name]) => name), values: written.map(([, value]) => asText(value)) };
            }),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
