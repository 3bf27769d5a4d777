// A streaming RFC 4180 parser: text goes in chunk by chunk (any split, even inside a quoted field
// or between CR and LF), complete records come out with the line they start on. The first
// non-blank record is the header; its delimiter (comma or semicolon, whichever occurs more often
// outside quotes) is used for the whole file. Records end at LF, CRLF or CR; a quoted field may
// hold delimiters, quotes (doubled) and line breaks. Blank lines are skipped.
//
// Lines and columns are 1-based and count physical lines (a quoted line break starts a new one)
// and characters.
//
// Options for files that are not uploads (CDM partitions): `columns` names the fields when the
// input has no header row (every record is data), `delimiter` fixes the delimiter, and `beginPart`
// reads several files in order as one input, each with or without a header row of its own.
import type { SegmentLimits } from '../domain/segment';
import { type AppError, Errors, withDetails } from '../errors';

export type CsvLimits = Pick<SegmentLimits, 'maxFieldsPerRecord' | 'maxFieldChars' | 'maxLineChars'>;

export interface CsvParserOptions {
  /** The field names of an input without a header row; the first record is then data. */
  columns?: readonly string[];
  /** The delimiter (one character), instead of detecting it from the first line. */
  delimiter?: string;
}

export interface CsvPartOptions {
  /** The part starts with a header row: it must name the fields already known (in order) and is skipped. */
  headerRow: boolean;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;
const LF = 0x0a;
const CR = 0x0d;

const enum State {
  /** At the start of a field (after a delimiter) or, with no fields yet, of a record. */
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted field: either the closing quote or the first of a doubled pair. */
  QuoteInQuoted,
}

export class CsvParser {
  /** The header's field names, once the header has been read. */
  header: string[] | undefined;
  /** The line the header starts on (blank lines may precede it). */
  headerLine = 1;
  /** `,` or `;`, once the header line has been seen. */
  delimiter: string | undefined;

  private readonly limits: CsvLimits;
  private delimiterCode = COMMA;
  /** Text held back until the header line is complete and the delimiter known. */
  private pending = '';
  private state = State.FieldStart;
  private fields: string[] = [];
  /** Field text from earlier chunks (or before a doubled quote) of the field being read. */
  private carry = '';
  private segmentStart = 0;
  /** Absolute character offset of the current chunk's start and of the current line's start. */
  private chunkOffset = 0;
  private lineStart = 0;
  private line = 1;
  private recordLine = 1;
  private quotedFieldLine = 1;
  private quotedFieldColumn = 1;
  private afterCR = false;
  private rows: string[][] = [];
  private rowLines: number[] = [];
  /** Where the field names came from: the first record, or the `columns` option. */
  private readonly headerFrom: 'header' | 'column list';
  /** A part has begun (`beginPart`): the next part ends it. */
  private inPart = false;
  /** The current part's header row is still to be read (and skipped). */
  private partHeaderPending = false;

  constructor(limits: CsvLimits, options: CsvParserOptions = {}) {
    this.limits = limits;
    if (options.delimiter !== undefined) {
      if (options.delimiter.length !== 1 || '"\r\n'.includes(options.delimiter)) throw new Error(`Not a CSV delimiter: ${JSON.stringify(options.delimiter)}`);
      this.useDelimiter(options.delimiter);
    }
    this.headerFrom = options.columns ? 'column list' : 'header';
    if (options.columns) this.header = [...options.columns];
  }

  /** The physical line the parser has reached. */
  get currentLine(): number {
    return this.line;
  }

  /** Parses one more chunk of text. */
  push(text: string): void {
    if (this.delimiter === undefined) {
      this.pending += text;
      const detected = detectDelimiter(this.pending, false);
      if (detected === undefined) {
        if (this.pending.length > this.limits.maxLineChars) {
          throw this.limitError('maxLineChars', this.limits.maxLineChars, this.limits.maxLineChars);
        }
        return;
      }
      this.useDelimiter(detected);
      text = this.pending;
      this.pending = '';
    }
    this.parse(text);
  }

  /**
   * Starts the next of several files read as one input (CDM partitions, in order). The previous
   * part's last record ends with it, final line break or not; lines count from 1 in each part.
   */
  beginPart(options: CsvPartOptions): void {
    if (this.inPart) this.finish('the part');
    this.inPart = true;
    this.line = 1;
    this.recordLine = 1;
    this.lineStart = this.chunkOffset;
    this.afterCR = false;
    // Without a column list the first part's header row is the header itself.
    this.partHeaderPending = options.headerRow && this.header !== undefined;
  }

  /** Ends the input: finishes the last record or reports an unclosed quote. */
  end(): void {
    this.finish(this.inPart ? 'the part' : 'the upload');
  }

  private finish(what: string): void {
    if (this.delimiter === undefined) {
      const pending = this.pending;
      this.pending = '';
      this.useDelimiter(detectDelimiter(pending, true) ?? ',');
      this.parse(pending);
    }
    const position = this.chunkOffset;
    switch (this.state) {
      case State.Quoted: {
        const reason = `a quoted field is not closed before the end of ${what}`;
        const line = this.quotedFieldLine;
        const column = this.quotedFieldColumn;
        throw withDetails(Errors.segmentCsvMalformed(line, column, reason), { line, column, reason });
      }
      case State.QuoteInQuoted:
      case State.Unquoted:
        this.endRecord(this.carry, position);
        break;
      case State.FieldStart:
        if (this.fields.length > 0) this.endRecord('', position);
        break;
    }
  }

  /** The records completed so far (the header excluded), each with the line it starts on. */
  take(): { rows: string[][]; lines: number[] } {
    const taken = { rows: this.rows, lines: this.rowLines };
    this.rows = [];
    this.rowLines = [];
    return taken;
  }

  private useDelimiter(delimiter: string): void {
    this.delimiter = delimiter;
    this.delimiterCode = delimiter.charCodeAt(0);
  }

  /**
   * The character loop (the hot path of an upload). Its state lives in a local while it runs. A
   * line break or a character that may change the state goes to its step, which answers the next
   * state; inside a field, the ordinary characters up to the next such one are skipped in one go.
   */
  private parse(text: string): void {
    const length = text.length;
    const offset = this.chunkOffset;
    this.segmentStart = 0;
    let state = this.state;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c === LF || c === CR) {
        state = this.lineBreak(c, state, text, i, offset);
        continue;
      }
      this.afterCR = false;
      state = this.fieldChar(c, state, text, i, offset);
      if (state === State.Unquoted || state === State.Quoted) i = this.nextSpecial(text, i + 1, state === State.Quoted) - 1;
    }
    this.endChunk(state, text, offset);
  }

  /**
   * The index of the first character from `from` that may end or change the field (a line break, a
   * quote, and outside quotes the delimiter), or the text's length.
   */
  private nextSpecial(text: string, from: number, quoted: boolean): number {
    const delimiter = quoted ? QUOTE : this.delimiterCode;
    const length = text.length;
    let i = from;
    for (; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c === delimiter || c === QUOTE || c === LF || c === CR) break;
    }
    return i;
  }

  /** A CR or LF at `i`: ends the record unless it stands inside quotes, and counts the line (a CRLF once). */
  private lineBreak(c: number, state: State, text: string, i: number, offset: number): State {
    if (c === LF && this.afterCR) {
      // The LF of a CRLF: the CR already counted the line (and ended the record, if any).
      this.afterCR = false;
      this.lineStart = offset + i + 1;
      return state;
    }
    this.afterCR = c === CR;
    let next = state;
    if (state !== State.Quoted) {
      if (state === State.Unquoted) this.endRecord(this.carry + text.slice(this.segmentStart, i), offset + i);
      else if (state === State.QuoteInQuoted) this.endRecord(this.carry, offset + i);
      else if (this.fields.length > 0) this.endRecord('', offset + i);
      // Otherwise a blank line: nothing to end.
      next = State.FieldStart;
    }
    this.newLine(offset + i);
    return next;
  }

  /** Any other character at `i`: what it means depends on where in a field it stands. */
  private fieldChar(c: number, state: State, text: string, i: number, offset: number): State {
    switch (state) {
      case State.FieldStart:
        return this.fieldStart(c, i, offset);
      case State.Unquoted:
        if (c === this.delimiterCode) {
          this.endField(this.carry + text.slice(this.segmentStart, i), offset + i);
          return State.FieldStart;
        }
        if (c === QUOTE) throw this.malformed('a quote inside an unquoted field (quote the whole field and double the quote)', offset + i);
        return state;
      case State.Quoted:
        if (c !== QUOTE) return state;
        this.carry += text.slice(this.segmentStart, i);
        return State.QuoteInQuoted;
      case State.QuoteInQuoted:
        return this.afterQuoteInQuoted(c, i, offset);
    }
  }

  /** The first character of a field: a quote opens a quoted field, a delimiter ends an empty one. */
  private fieldStart(c: number, i: number, offset: number): State {
    if (this.fields.length === 0) this.recordLine = this.line;
    this.carry = '';
    if (c === QUOTE) {
      this.segmentStart = i + 1;
      this.quotedFieldLine = this.line;
      this.quotedFieldColumn = this.columnAt(offset + i);
      return State.Quoted;
    }
    if (c === this.delimiterCode) {
      this.endField('', offset + i);
      return State.FieldStart;
    }
    this.segmentStart = i;
    return State.Unquoted;
  }

  /** The character after a quote inside a quoted field: a doubled quote, or what may follow the closing one. */
  private afterQuoteInQuoted(c: number, i: number, offset: number): State {
    if (c === QUOTE) {
      // A doubled quote stands for one quote; the field goes on.
      this.carry += '"';
      this.segmentStart = i + 1;
      return State.Quoted;
    }
    if (c === this.delimiterCode) {
      this.endField(this.carry, offset + i);
      return State.FieldStart;
    }
    throw this.malformed('only a delimiter or a line break may follow a closing quote', offset + i);
  }

  /** Keeps the unfinished field's text for the next chunk and checks the line so far. */
  private endChunk(state: State, text: string, offset: number): void {
    if (state === State.Unquoted || state === State.Quoted) {
      this.carry += text.slice(this.segmentStart);
      if (this.carry.length > this.limits.maxFieldChars) {
        throw this.limitError('maxFieldChars', this.limits.maxFieldChars, offset + text.length);
      }
    }
    this.state = state;
    this.chunkOffset = offset + text.length;
    if (this.chunkOffset - this.lineStart > this.limits.maxLineChars) {
      throw this.limitError('maxLineChars', this.limits.maxLineChars, this.lineStart + this.limits.maxLineChars);
    }
  }

  /** Counts the line break at absolute position `position`, after checking the line it ends. */
  private newLine(position: number): void {
    if (position - this.lineStart > this.limits.maxLineChars) {
      throw this.limitError('maxLineChars', this.limits.maxLineChars, this.lineStart + this.limits.maxLineChars);
    }
    this.line++;
    this.lineStart = position + 1;
  }

  private columnAt(position: number): number {
    return position - this.lineStart + 1;
  }

  /** Ends the field that ends at absolute position `position` (a delimiter, line break or the end). */
  private endField(value: string, position: number): void {
    const fields = this.fields;
    if (value.length > this.limits.maxFieldChars) throw this.limitError('maxFieldChars', this.limits.maxFieldChars, position);
    if (fields.length >= this.limits.maxFieldsPerRecord) {
      throw this.limitError('maxFieldsPerRecord', this.limits.maxFieldsPerRecord, position);
    }
    if (this.header !== undefined && fields.length >= this.header.length) {
      throw this.malformed(`more fields than the ${this.headerFrom}'s ${this.header.length}`, position);
    }
    fields.push(value);
  }

  /** Ends the last field and its record at absolute position `position`. */
  private endRecord(lastField: string, position: number): void {
    this.endField(lastField, position);
    const fields = this.fields;
    this.fields = [];
    this.carry = '';
    this.state = State.FieldStart;
    if (this.partHeaderPending) {
      this.partHeaderPending = false;
      this.checkPartHeader(fields, position);
      return;
    }
    if (this.header === undefined) {
      this.header = fields;
      this.headerLine = this.recordLine;
      return;
    }
    if (fields.length < this.header.length) {
      throw this.malformed(`${fields.length} field(s) where the ${this.headerFrom} has ${this.header.length}`, position);
    }
    this.rows.push(fields);
    this.rowLines.push(this.recordLine);
  }

  /** A part's own header row names the known fields, in order (case aside). */
  private checkPartHeader(fields: readonly string[], position: number): void {
    const header = this.header ?? [];
    const same = fields.length === header.length && fields.every((field, i) => field.trim().toLowerCase() === header[i]!.trim().toLowerCase());
    if (!same) {
      const shown = (names: readonly string[]) => names.slice(0, 10).join(', ') + (names.length > 10 ? ', …' : '');
      throw this.malformed(`the header row (${shown(fields)}) does not name the fields ${shown(header)}`, position);
    }
  }

  private malformed(reason: string, position: number): AppError {
    const line = this.line;
    const column = this.columnAt(position);
    return withDetails(Errors.segmentCsvMalformed(line, column, reason), { line, column, reason });
  }

  private limitError(limit: keyof CsvLimits, max: number, position: number): AppError {
    const column = this.columnAt(position);
    return withDetails(Errors.segmentLimitExceeded(limit, max, this.line), { line: this.line, column, limit, max });
  }
}

/**
 * The delimiter of the first non-blank line: `;` when it holds more semicolons than commas outside
 * quotes, otherwise `,`. Undefined while that line is incomplete (unless `final`).
 */
export function detectDelimiter(text: string, final: boolean): ',' | ';' | undefined {
  let commas = 0;
  let semicolons = 0;
  let quoted = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) quoted = !quoted;
    else if (!quoted && (c === LF || c === CR)) {
      if (started) return semicolons > commas ? ';' : ',';
    } else if (!quoted && c === COMMA) commas++;
    else if (!quoted && c === SEMICOLON) semicolons++;
    if (c !== LF && c !== CR) started = true;
  }
  return final ? (semicolons > commas ? ';' : ',') : undefined;
}
