import type { SegmentLimits } from '../domain/segment';
import { type AppError, Errors, withDetails } from '../errors';

/**
 * A streaming NDJSON parser: one JSON object per line (LF or CRLF), blank lines skipped. Objects are
 * flat: values are strings, numbers, booleans or null. Values come out as text — numbers exactly as
 * written, so that a 20-digit customer id keeps every digit, `null` as `''` — which is why this is
 * a small parser of its own rather than `JSON.parse`.
 */
export type NdjsonLimits = Pick<SegmentLimits, 'maxFieldsPerRecord' | 'maxFieldChars' | 'maxLineChars'>;

/** One object: its property names and values, in the order written. */
export interface FlatRecord {
  names: string[];
  values: string[];
}

export class NdjsonParser {
  private readonly limits: NdjsonLimits;
  /** The unfinished line from earlier chunks. */
  private carry = '';
  /** Lines completed so far. */
  private completedLines = 0;
  private records: FlatRecord[] = [];
  private recordLines: number[] = [];

  constructor(limits: NdjsonLimits) {
    this.limits = limits;
  }

  /** The line being read (1-based). */
  get currentLine(): number {
    return this.completedLines + 1;
  }

  push(text: string): void {
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline === -1) break;
      const line = this.carry === '' ? text.slice(start, newline) : this.carry + text.slice(start, newline);
      this.carry = '';
      this.completeLine(line);
      start = newline + 1;
    }
    this.carry += text.slice(start);
    if (this.carry.length > this.limits.maxLineChars) throw this.lineTooLong();
  }

  end(): void {
    const rest = this.carry;
    this.carry = '';
    if (rest !== '') this.completeLine(rest);
  }

  take(): { records: FlatRecord[]; lines: number[] } {
    const taken = { records: this.records, lines: this.recordLines };
    this.records = [];
    this.recordLines = [];
    return taken;
  }

  private completeLine(raw: string): void {
    if (raw.length > this.limits.maxLineChars) throw this.lineTooLong();
    this.completedLines++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (isBlank(text)) return;
    this.records.push(parseFlatObject(text, this.completedLines, this.limits));
    this.recordLines.push(this.completedLines);
  }

  private lineTooLong(): AppError {
    const { maxLineChars } = this.limits;
    return withDetails(Errors.segmentLimitExceeded('maxLineChars', maxLineChars, this.currentLine), {
      line: this.currentLine,
      limit: 'maxLineChars',
      max: maxLineChars,
    });
  }
}

const BLANK = /^[ \t\r]*$/;
// A string without escapes or control characters (JSON forbids those raw), the common case.
// eslint-disable-next-line no-control-regex
const SIMPLE_STRING = /"([^"\\\u0000-\u001f]*)"/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WHITESPACE = /[ \t\r\n]*/y;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function isBlank(text: string): boolean {
  return BLANK.test(text);
}

/** Parses one line holding a flat JSON object; errors name the line and column. */
// eslint-disable-next-line max-lines-per-function -- one character loop; split under issue 10
export function parseFlatObject(text: string, line: number, limits: NdjsonLimits): FlatRecord {
  let position = 0;
  const names: string[] = [];
  const values: string[] = [];

  const fail = (reason: string, at = position): AppError => {
    const column = at + 1;
    return withDetails(Errors.segmentJsonMalformed(line, column, reason), { line, column, reason });
  };
  const skipWhitespace = (): void => {
    WHITESPACE.lastIndex = position;
    WHITESPACE.test(text);
    position = WHITESPACE.lastIndex;
  };
  const expect = (char: string, what: string): void => {
    skipWhitespace();
    if (text[position] !== char) throw fail(position >= text.length ? `the line ends where ${what} belongs` : `expected ${what}`);
    position++;
  };
  const readString = (): string => {
    SIMPLE_STRING.lastIndex = position;
    const simple = SIMPLE_STRING.exec(text);
    if (simple) {
      position = SIMPLE_STRING.lastIndex;
      return simple[1]!;
    }
    return readEscapedString();
  };
  const readEscapedString = (): string => {
    const start = position;
    let result = '';
    let chunkStart = ++position;
    for (;;) {
      if (position >= text.length) throw fail('a string is not closed', start);
      const c = text.charCodeAt(position);
      if (c === 0x22) {
        result += text.slice(chunkStart, position);
        position++;
        return result;
      }
      if (c < 0x20) throw fail('a control character inside a string must be escaped');
      if (c !== 0x5c) {
        position++;
        continue;
      }
      result += text.slice(chunkStart, position);
      const escape = text[position + 1];
      if (escape === 'u') {
        const hex = text.slice(position + 2, position + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw fail('\\u must be followed by four hex digits');
        result += String.fromCharCode(parseInt(hex, 16));
        position += 6;
      } else if (escape !== undefined && ESCAPES[escape] !== undefined) {
        result += ESCAPES[escape];
        position += 2;
      } else {
        throw fail('an unknown escape sequence');
      }
      chunkStart = position;
    }
  };
  const readValue = (name: string): string => {
    skipWhitespace();
    const c = text[position];
    if (c === '"') return readString();
    if (c === 't' && text.startsWith('true', position)) return advance('true');
    if (c === 'f' && text.startsWith('false', position)) return advance('false');
    if (c === 'n' && text.startsWith('null', position)) {
      position += 4;
      return '';
    }
    if (c === '{' || c === '[') {
      throw fail(`field '${name}' holds ${c === '{' ? 'an object' : 'an array'}; only strings, numbers, booleans and null are accepted`);
    }
    NUMBER.lastIndex = position;
    const number = NUMBER.exec(text);
    if (number && number[0] !== '') {
      position = NUMBER.lastIndex;
      return number[0];
    }
    throw fail(position >= text.length ? `the line ends where the value of '${name}' belongs` : `field '${name}' has no valid JSON value`);
  };
  const advance = (literal: string): string => {
    position += literal.length;
    return literal;
  };

  skipWhitespace();
  if (text[position] !== '{') throw fail('each line must be a JSON object');
  position++;
  skipWhitespace();
  if (text[position] === '}') {
    position++;
  } else {
    for (;;) {
      skipWhitespace();
      if (text[position] !== '"') throw fail('expected a property name in double quotes');
      const nameAt = position;
      const name = readString();
      if (names.includes(name)) throw fail(`field '${name}' appears twice`, nameAt);
      if (names.length >= limits.maxFieldsPerRecord) {
        throw withDetails(Errors.segmentLimitExceeded('maxFieldsPerRecord', limits.maxFieldsPerRecord, line), {
          line,
          column: nameAt + 1,
          limit: 'maxFieldsPerRecord',
          max: limits.maxFieldsPerRecord,
        });
      }
      expect(':', "':' after a property name");
      const valueAt = position;
      const value = readValue(name);
      if (value.length > limits.maxFieldChars) {
        throw withDetails(Errors.segmentLimitExceeded('maxFieldChars', limits.maxFieldChars, line), {
          line,
          column: valueAt + 1,
          limit: 'maxFieldChars',
          max: limits.maxFieldChars,
        });
      }
      names.push(name);
      values.push(value);
      skipWhitespace();
      if (text[position] === ',') {
        position++;
        continue;
      }
      if (text[position] === '}') {
        position++;
        break;
      }
      throw fail(position >= text.length ? "the line ends before the object's closing '}'" : "expected ',' or '}'");
    }
  }
  skipWhitespace();
  if (position < text.length) throw fail('only one JSON object may stand on a line');
  return { names, values };
}
