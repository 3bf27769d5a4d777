import { describe, expect, it } from 'vitest';
import { DEFAULT_SEGMENT_LIMITS } from '../../../src/domain/segment';
import { AppError } from '../../../src/errors';
import { CsvParser, type CsvParserOptions } from '../../../src/segments/csv-parser';

/** Several files read in order as one input, each in chunks of `chunkSize`, as CDM partitions are. */
function parseParts(parts: readonly { text: string; headerRow?: boolean }[], options: CsvParserOptions, chunkSize = 1_000_000) {
  const parser = new CsvParser(DEFAULT_SEGMENT_LIMITS, options);
  const rows: string[][] = [];
  const lines: number[] = [];
  const collect = () => {
    const taken = parser.take();
    rows.push(...taken.rows);
    lines.push(...taken.lines);
  };
  for (const part of parts) {
    parser.beginPart({ headerRow: part.headerRow ?? false });
    collect();
    for (let i = 0; i < part.text.length; i += chunkSize) {
      parser.push(part.text.slice(i, i + chunkSize));
      collect();
    }
  }
  parser.end();
  collect();
  return { header: parser.header, rows, lines };
}

function failure(run: () => unknown): { code: string; message: string; details: Record<string, unknown> } {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, message: error.message, details: error.details as Record<string, unknown> };
    throw error;
  }
  throw new Error('expected an error');
}

const columns = ['CustomerId', 'Email', 'Note'];

describe('CsvParser with a column list and several parts', () => {
  it('reads every record as data when the columns are given: no header row', () => {
    expect(parseParts([{ text: 'C1,a@x.io,hi\nC2,b@x.io,\n' }], { columns, delimiter: ',' })).toEqual({
      header: columns,
      rows: [
        ['C1', 'a@x.io', 'hi'],
        ['C2', 'b@x.io', ''],
      ],
      lines: [1, 2],
    });
  });

  it('ends the last record of a part that has no final line break, and counts lines per part', () => {
    const parts = [{ text: 'C1,a@x.io,"one, two"\r\nC2,b@x.io,x' }, { text: 'C3,c@x.io,"multi\nline"\nC4,d@x.io,y\n' }, { text: 'C5,e@x.io,z' }];
    for (const size of [1, 2, 3, 7, 1000]) {
      const result = parseParts(parts, { columns, delimiter: ',' }, size);
      expect(result.rows.map((row) => row[0]), `chunks of ${size}`).toEqual(['C1', 'C2', 'C3', 'C4', 'C5']);
      expect(result.rows[2]![2]).toBe('multi\nline');
      expect(result.lines, `chunks of ${size}`).toEqual([1, 2, 1, 3, 1]);
    }
  });

  it('does not join a CR that ends one part with an LF that starts the next', () => {
    const result = parseParts([{ text: 'C1,a@x.io,x\r' }, { text: '\nC2,b@x.io,y\n' }], { columns, delimiter: ',' });
    expect(result.rows.map((row) => row[0])).toEqual(['C1', 'C2']);
    expect(result.lines).toEqual([1, 2]);
  });

  it('checks and skips the header row of every part that has one', () => {
    const parts = [
      { text: 'CustomerId,Email,Note\nC1,a@x.io,x\n', headerRow: true },
      { text: 'customerid, email ,NOTE\nC2,b@x.io,y\n', headerRow: true },
    ];
    const result = parseParts(parts, { columns, delimiter: ',' });
    expect(result.rows).toEqual([
      ['C1', 'a@x.io', 'x'],
      ['C2', 'b@x.io', 'y'],
    ]);
    expect(result.lines).toEqual([2, 2]);
  });

  it('takes the header from the first part without a column list, and checks it in the others', () => {
    const parts = [
      { text: 'CustomerId;Email\nC1;a@x.io\n', headerRow: true },
      { text: 'CustomerId;Email\nC2;b@x.io\n', headerRow: true },
    ];
    expect(parseParts(parts, {}).rows).toEqual([
      ['C1', 'a@x.io'],
      ['C2', 'b@x.io'],
    ]);
  });

  it("refuses a part whose header row does not name the columns, at that part's line", () => {
    const parts = [
      { text: 'CustomerId,Email,Note\nC1,a@x.io,x\n', headerRow: true },
      { text: 'CustomerId,Note,Email\nC2,y,b@x.io\n', headerRow: true },
    ];
    const refused = failure(() => parseParts(parts, { columns, delimiter: ',' }));
    expect(refused.code).toBe('segment_csv_malformed');
    expect(refused.details).toMatchObject({ line: 1 });
    expect(refused.message).toContain('does not name the fields CustomerId, Email, Note');
  });

  it('refuses a quoted field left open at the end of a part rather than reading on into the next', () => {
    const refused = failure(() => parseParts([{ text: 'C1,a@x.io,"open\n' }, { text: 'C2,b@x.io,x\n' }], { columns, delimiter: ',' }));
    expect(refused).toMatchObject({ code: 'segment_csv_malformed', details: { line: 1, column: 11 } });
    expect(refused.message).toContain('before the end of the part');
  });

  it('names the column list when a record has too few or too many fields', () => {
    const short = failure(() => parseParts([{ text: 'C1,a@x.io,x\nC2,b@x.io\n' }], { columns, delimiter: ',' }));
    expect(short).toMatchObject({ code: 'segment_csv_malformed', details: { line: 2 } });
    expect(short.message).toContain('where the column list has 3');
    const long = failure(() => parseParts([{ text: 'C1,a@x.io,x,extra\n' }], { columns, delimiter: ',' }));
    expect(long.message).toContain("more fields than the column list's 3");
  });

  it('uses the given delimiter instead of detecting one', () => {
    // A first line with more semicolons than commas would otherwise be read as semicolon-separated.
    expect(parseParts([{ text: 'C1,a;b;c@x.io,x\n' }], { columns, delimiter: ',' }).rows).toEqual([['C1', 'a;b;c@x.io', 'x']]);
    expect(parseParts([{ text: 'C1\ta@x.io\tx,y\n' }], { columns, delimiter: '\t' }).rows).toEqual([['C1', 'a@x.io', 'x,y']]);
  });

  it('refuses a delimiter that cannot be one', () => {
    for (const delimiter of ['', ',,', '"', '\n']) expect(() => new CsvParser(DEFAULT_SEGMENT_LIMITS, { delimiter })).toThrow(/Not a CSV delimiter/);
  });
});
