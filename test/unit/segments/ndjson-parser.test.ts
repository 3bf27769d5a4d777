import { describe, expect, it } from 'vitest';
import { DEFAULT_SEGMENT_LIMITS } from '../../../src/domain/segment';
import { AppError } from '../../../src/errors';
import { NdjsonParser, parseFlatObject } from '../../../src/segments/ndjson-parser';

function parse(text: string, chunkSize = text.length || 1, limits = DEFAULT_SEGMENT_LIMITS) {
  const parser = new NdjsonParser(limits);
  const records: { names: string[]; values: string[] }[] = [];
  const lines: number[] = [];
  for (let i = 0; i < text.length; i += chunkSize) {
    parser.push(text.slice(i, i + chunkSize));
    const taken = parser.take();
    records.push(...taken.records);
    lines.push(...taken.lines);
  }
  parser.end();
  const taken = parser.take();
  return { records: [...records, ...taken.records], lines: [...lines, ...taken.lines] };
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

const object = (text: string) => parseFlatObject(text, 1, DEFAULT_SEGMENT_LIMITS);

describe('NdjsonParser', () => {
  it('reads one object per line, skipping blank lines, in any chunking', () => {
    const text = '{"id":"1","n":2}\r\n\n  \n{"id":"2","ok":true,"none":null}';
    for (let size = 1; size <= text.length; size++) {
      expect(parse(text, size), `chunks of ${size}`).toEqual({
        records: [
          { names: ['id', 'n'], values: ['1', '2'] },
          { names: ['id', 'ok', 'none'], values: ['2', 'true', ''] },
        ],
        lines: [1, 4],
      });
    }
  });

  it('keeps numbers exactly as written', () => {
    expect(object('{"id": 12345678901234567890, "x": -1.50e+3}').values).toEqual(['12345678901234567890', '-1.50e+3']);
  });

  it('unescapes strings, surrogate pairs included', () => {
    expect(object('{"a":"q\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00","b":"Zoë 😀"}').values).toEqual(['q"\\/\né😀', 'Zoë 😀']);
  });

  it.each([
    ['not an object', '["a"]', 1],
    ['a nested object', '{"id":"1","a":{"b":1}}', 15],
    ['an array value', '{"id":"1","a":[1]}', 15],
    ['a missing colon', '{"id" "1"}', 7],
    ['a trailing comma', '{"id":"1",}', 11],
    ['an unclosed string', '{"id":"1', 7],
    ['an unquoted name', '{id:"1"}', 2],
    ['a raw control character', '{"id":"a\tb"}', 9],
    ['a bad escape', '{"id":"\\x"}', 8],
    ['two objects', '{"id":"1"} {"id":"2"}', 12],
    ['a duplicate name', '{"id":"1","id":"2"}', 11],
    ['a number with a leading zero', '{"id":01}', 8],
    ['a missing closing brace', '{"id":"1"', 10],
  ])('reports %s with its column', (_case, text, column) => {
    expect(failure(() => parse(`{"id":"0"}\n${text}\n`))).toMatchObject({ code: 'segment_json_malformed', details: { line: 2, column } });
  });

  it('enforces the line, field and fields-per-record limits', () => {
    const limits = { ...DEFAULT_SEGMENT_LIMITS, maxLineChars: 30, maxFieldChars: 5, maxFieldsPerRecord: 2 };
    expect(failure(() => parse('{"id":"1"}\n{"id":"123456789012345678901234567890"}\n', 7, limits))).toMatchObject({
      code: 'segment_limit_exceeded',
      details: { line: 2, limit: 'maxLineChars', max: 30 },
    });
    expect(failure(() => parse('{"id":"123456"}\n', undefined, limits))).toMatchObject({
      code: 'segment_limit_exceeded',
      details: { line: 1, column: 7, limit: 'maxFieldChars' },
    });
    expect(failure(() => parse('{"a":1,"b":2,"c":3}\n', undefined, limits))).toMatchObject({
      code: 'segment_limit_exceeded',
      details: { line: 1, limit: 'maxFieldsPerRecord', max: 2 },
    });
  });
});
