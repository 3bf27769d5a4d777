import fc from 'fast-check';

/**
 * Generated CSV files with what real files hold: quoted and unquoted fields, doubled quotes,
 * embedded delimiters and line breaks, unicode (astral characters included), a BOM or not, comma
 * or semicolon, LF / CRLF / CR line ends — together with the rows a reader must give back.
 */
export interface GeneratedCsv {
  bytes: Buffer;
  header: string[];
  rows: string[][];
  /** Byte offsets at which to cut the upload into chunks (splitting multi-byte characters too). */
  cuts: number[];
}

const piece = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(',', ';', '"', '""', '\n', '\r\n', '\r', ' ', '\t', 'é', 'ß', '😀', '中文', '\uFEFF', 'x') },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 6 }) },
);
const value = fc.array(piece, { maxLength: 6 }).map((pieces) => pieces.join(''));
const fieldName = value.filter((name) => name !== '' && name === name.trim() && name.length <= 128);
const keyValue = value.filter((key) => key.trim() !== '');

function serializeField(text: string, forceQuotes: boolean): string {
  // Fields holding either delimiter are quoted too, as spreadsheet exports do: the header's
  // delimiter is detected by counting them outside quotes.
  return forceQuotes || /[",;\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const generatedCsv: fc.Arbitrary<GeneratedCsv> = fc
  .record({
    header: fc.uniqueArray(fieldName, { minLength: 1, maxLength: 5 }),
    delimiter: fc.constantFrom(',', ';'),
    lineEnd: fc.constantFrom('\n', '\r\n', '\r'),
    finalLineEnd: fc.boolean(),
    bom: fc.boolean(),
    rowCount: fc.integer({ min: 1, max: 12 }),
  })
  .chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      rows: fc.array(fc.tuple(keyValue, fc.array(value, { minLength: shape.header.length - 1, maxLength: shape.header.length - 1 })), {
        minLength: shape.rowCount,
        maxLength: shape.rowCount,
      }),
      quoting: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
      cutFractions: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
    }),
  )
  .map(({ shape, rows, quoting, cutFractions }) => {
    const table = rows.map(([key, others]) => [key, ...others]);
    let quoteIndex = 0;
    const line = (fields: string[]) =>
      fields.map((field) => serializeField(field, quoting[quoteIndex++ % quoting.length]!)).join(shape.delimiter);
    const text = [line(shape.header), ...table.map(line)].join(shape.lineEnd) + (shape.finalLineEnd ? shape.lineEnd : '');
    const bytes = Buffer.concat([shape.bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.from(text, 'utf8')]);
    const cuts = [...new Set(cutFractions.map((fraction) => Math.floor(fraction * bytes.length)))].sort((a, b) => a - b);
    return { bytes, header: shape.header, rows: table, cuts };
  });

export function chunksOf(csv: GeneratedCsv): Buffer[] {
  const bounds = [0, ...csv.cuts, csv.bytes.length];
  const chunks: Buffer[] = [];
  for (let i = 1; i < bounds.length; i++) if (bounds[i]! > bounds[i - 1]!) chunks.push(csv.bytes.subarray(bounds[i - 1], bounds[i]));
  return chunks;
}

/** The records a reader must yield: one per key, the last one written, in the order of that record. */
export function expectedMembers(csv: GeneratedCsv): { key: string; values: Record<string, string> }[] {
  const last = new Map<string, number>();
  csv.rows.forEach((row, index) => last.set(row[0]!.trim(), index));
  return csv.rows
    .filter((row, index) => last.get(row[0]!.trim()) === index)
    .map((row) => ({ key: row[0]!.trim(), values: Object.fromEntries(csv.header.map((name, i) => [name, row[i]!])) }));
}
