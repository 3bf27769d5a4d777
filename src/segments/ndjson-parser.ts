// A streaming NDJSON parser: one JSON object per line (LF or CRLF), blank lines skipped. Objects are
// flat: values are strings, numbers, booleans or null. Values come out as text — numbers exactly as
// written, so that a 20-digit customer id keeps every digit, `null` as `''` — which is why this is
// a small parser of its own rather than `JSON.parse`.
import type { SegmentLimits } from '../domain/segment';
import { type AppError, Errors, withDetails } from '../errors';

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
export function parseFlatObject(text: string, line: number, limits: NdjsonLimits): FlatRecord {
  return new FlatObjectReader(text, line, limits).read();
}

/** A cursor over one line: each method reads one piece of JSON at `position` and moves past it. */
class FlatObjectReader {
  private position = 0;
  private readonly names: string[] = [];
  private readonly values: string[] = [];

  constructor(
    private readonly text: string,
    private readonly line: number,
    private readonly limits: NdjsonLimits,
  ) {}

  read(): FlatRecord {
    this.skipWhitespace();
    if (this.text[this.position] !== '{') throw this.fail('each line must be a JSON object');
    this.position++;
    this.skipWhitespace();
    if (this.text[this.position] === '}') this.position++;
    else this.readMembers();
    this.skipWhitespace();
    if (this.position < this.text.length) throw this.fail('only one JSON object may stand on a line');
    return { names: this.names, values: this.values };
  }

  /** The members up to and including the closing `}`, separated by commas. */
  private readMembers(): void {
    for (;;) {
      this.readMember();
      this.skipWhitespace();
      const next = this.text[this.position];
      if (next !== ',' && next !== '}') {
        throw this.fail(this.position >= this.text.length ? "the line ends before the object's closing '}'" : "expected ',' or '}'");
      }
      this.position++;
      if (next === '}') return;
    }
  }

  /** One `"name": value`, checked against the limits and the names before it. */
  private readMember(): void {
    this.skipWhitespace();
    if (this.text[this.position] !== '"') throw this.fail('expected a property name in double quotes');
    const nameAt = this.position;
    const name = this.readString();
    if (this.names.includes(name)) throw this.fail(`field '${name}' appears twice`, nameAt);
    if (this.names.length >= this.limits.maxFieldsPerRecord) throw this.limitExceeded('maxFieldsPerRecord', nameAt);
    this.expect(':', "':' after a property name");
    const valueAt = this.position;
    const value = this.readValue(name);
    if (value.length > this.limits.maxFieldChars) throw this.limitExceeded('maxFieldChars', valueAt);
    this.names.push(name);
    this.values.push(value);
  }

  private readValue(name: string): string {
    this.skipWhitespace();
    const { text, position } = this;
    const c = text[position];
    if (c === '"') return this.readString();
    if (c === 't' && text.startsWith('true', position)) return this.advance('true');
    if (c === 'f' && text.startsWith('false', position)) return this.advance('false');
    if (c === 'n' && text.startsWith('null', position)) {
      this.position += 4;
      return '';
    }
    if (c === '{' || c === '[') {
      throw this.fail(`field '${name}' holds ${c === '{' ? 'an object' : 'an array'}; only strings, numbers, booleans and null are accepted`);
    }
    NUMBER.lastIndex = position;
    const number = NUMBER.exec(text);
    if (number && number[0] !== '') {
      this.position = NUMBER.lastIndex;
      return number[0];
    }
    throw this.fail(position >= text.length ? `the line ends where the value of '${name}' belongs` : `field '${name}' has no valid JSON value`);
  }

  private readString(): string {
    SIMPLE_STRING.lastIndex = this.position;
    const simple = SIMPLE_STRING.exec(this.text);
    if (simple) {
      this.position = SIMPLE_STRING.lastIndex;
      return simple[1]!;
    }
    return this.readEscapedString();
  }

  /** A string with escapes (or an unclosed or invalid one): read piece by piece. */
  private readEscapedString(): string {
    const { text } = this;
    const start = this.position;
    let result = '';
    let chunkStart = ++this.position;
    for (;;) {
      if (this.position >= text.length) throw this.fail('a string is not closed', start);
      const c = text.charCodeAt(this.position);
      if (c === 0x22) {
        result += text.slice(chunkStart, this.position);
        this.position++;
        return result;
      }
      if (c < 0x20) throw this.fail('a control character inside a string must be escaped');
      if (c !== 0x5c) {
        this.position++;
        continue;
      }
      result += text.slice(chunkStart, this.position) + this.readEscape();
      chunkStart = this.position;
    }
  }

  /** The escape sequence at the backslash at `position`: what it stands for. */
  private readEscape(): string {
    const escape = this.text[this.position + 1];
    if (escape === 'u') {
      const hex = this.text.slice(this.position + 2, this.position + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.fail('\\u must be followed by four hex digits');
      this.position += 6;
      return String.fromCharCode(parseInt(hex, 16));
    }
    if (escape !== undefined && ESCAPES[escape] !== undefined) {
      this.position += 2;
      return ESCAPES[escape];
    }
    throw this.fail('an unknown escape sequence');
  }

  private expect(char: string, what: string): void {
    this.skipWhitespace();
    if (this.text[this.position] !== char) {
      throw this.fail(this.position >= this.text.length ? `the line ends where ${what} belongs` : `expected ${what}`);
    }
    this.position++;
  }

  private advance(literal: string): string {
    this.position += literal.length;
    return literal;
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.position;
    WHITESPACE.test(this.text);
    this.position = WHITESPACE.lastIndex;
  }

  private fail(reason: string, at = this.position): AppError {
    const { line } = this;
    const column = at + 1;
    return withDetails(Errors.segmentJsonMalformed(line, column, reason), { line, column, reason });
  }

  private limitExceeded(limit: 'maxFieldsPerRecord' | 'maxFieldChars', at: number): AppError {
    const { line } = this;
    const max = this.limits[limit];
    return withDetails(Errors.segmentLimitExceeded(limit, max, line), { line, column: at + 1, limit, max });
  }
}
