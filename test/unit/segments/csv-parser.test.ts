import { describe, expect, it } from 'vitest';
import { DEFAULT_SEGMENT_LIMITS } from '../../../src/domain/segment';
import { AppError } from '../../../src/errors';
import { CsvParser, detectDelimiter, type CsvLimits } from '../../../src/segments/csv-parser';

function parse(text: string, chunkSize = text.length || 1, limits: CsvLimits = DEFAULT_SEGMENT_LIMITS) {
  const parser = new CsvParser(limits);
  const rows: string[][] = [];
  const lines: number[] = [];
  const collect = () => {
    const taken = parser.take();
    rows.push(...taken.rows);
    lines.push(...taken.lines);
  };
  for (let i = 0; i < text.length; i += chunkSize) {
    parser.push(text.slice(i, i + chunkSize));
    collect();
  }
  parser.end();
  collect();
  return { header: parser.header, delimiter: parser.delimiter, rows, lines };
}

function failure(run: () => unknown): { code: string; details: Record<string, unknown> } {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, details: error.details as Record<string, unknown> };
    throw error;
  }
  throw new Error('expected an error');
}

describe('CsvParser', () => {
  it('reads a header and records', () => {
    expect(parse('id,email\n1,a@x.io\n2,b@x.io\n')).toEqual({
      header: ['id', 'email'],
      delimiter: ',',
      rows: [
        ['1', 'a@x.io'],
        ['2', 'b@x.io'],
      ],
      lines: [2, 3],
    });
  });

  it('unquotes fields holding delimiters, doubled quotes and line breaks, in any chunking', () => {
    const text = 'id,note,city\r\n1,"a, ""quoted""\r\nline",Köln\r\n"2","",""\r\n3,x,"y\nz"';
    const expected = [
      ['1', 'a, "quoted"\r\nline', 'Köln'],
      ['2', '', ''],
      ['3', 'x', 'y\nz'],
    ];
    for (let size = 1; size <= text.length; size++) {
      const result = parse(text, size);
      expect(result.rows, `chunks of ${size}`).toEqual(expected);
      expect(result.lines, `chunks of ${size}`).toEqual([2, 4, 5]);
    }
  });

  it('detects a semicolon delimiter from the header', () => {
    expect(parse('id;name;"a,b"\n1;Zoë;x\n')).toMatchObject({ delimiter: ';', rows: [['1', 'Zoë', 'x']] });
    expect(detectDelimiter('a,b;c,d\n', false)).toBe(',');
    expect(detectDelimiter('"a;b;c",d', false)).toBeUndefined();
    expect(detectDelimiter('"a;b;c",d', true)).toBe(',');
  });

  it('skips blank lines and accepts CR-only line ends and a missing final line break', () => {
    expect(parse('\n\nid,v\r\r1,a\r\n\r\n2,b')).toMatchObject({ rows: [['1', 'a'], ['2', 'b']], lines: [5, 7] });
  });

  it('keeps empty trailing fields', () => {
    expect(parse('id,a,b\n1,,\n').rows).toEqual([['1', '', '']]);
  });

  it('reports a record with too few fields at its line', () => {
    expect(failure(() => parse('id,email\n1,a\n2\n3,c\n'))).toMatchObject({
      code: 'segment_csv_malformed',
      details: { line: 3, column: 2 },
    });
  });

  it('reports a record with too many fields where the extra field ends', () => {
    expect(failure(() => parse('id,email\n1,a,b\n'))).toMatchObject({
      code: 'segment_csv_malformed',
      details: { line: 2, column: 6 },
    });
  });

  it('reports a quote inside an unquoted field', () => {
    expect(failure(() => parse('id,name\n1,ab"c\n'))).toMatchObject({ code: 'segment_csv_malformed', details: { line: 2, column: 5 } });
  });

  it('reports text after a closing quote', () => {
    expect(failure(() => parse('id,name\n1,"ab"c\n'))).toMatchObject({ code: 'segment_csv_malformed', details: { line: 2, column: 7 } });
  });

  it('reports an unclosed quote at the line and column where the field opens', () => {
    expect(failure(() => parse('id,name\n1,a\n2,"open\nstill open\n'))).toMatchObject({
      code: 'segment_csv_malformed',
      details: { line: 3, column: 3 },
    });
  });

  it('enforces the field, line and fields-per-record limits', () => {
    const limits = { maxFieldsPerRecord: 3, maxFieldChars: 5, maxLineChars: 20 };
    expect(failure(() => parse('id,a\n1,123456\n', undefined, limits))).toMatchObject({
      code: 'segment_limit_exceeded',
      details: { line: 2, limit: 'maxFieldChars', max: 5 },
    });
    expect(failure(() => parse('id,a\n1,"12\n3456"\n', 2, limits))).toMatchObject({
      code: 'segment_limit_exceeded',
      details: { line: 3, limit: 'maxFieldChars' },
    });
    expect(failure(() => parse('a,b,c,d\n', undefined, limits))).toMatchObject({
      code: 'segment_limit_exceeded',
      details: { line: 1, limit: 'maxFieldsPerRecord', max: 3 },
    });
    expect(failure(() => parse('id,a\n1,a\n2,"b,b,b,b,b,b,b,b,b,b,b,b,b,b"\n', 4, { ...limits, maxFieldChars: 100 }))).toMatchObject({
      code: 'segment_limit_exceeded',
      details: { line: 3, limit: 'maxLineChars', max: 20 },
    });
  });
});
