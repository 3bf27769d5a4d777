// Turns upload text (CSV or NDJSON) into rows aligned with one growing list of fields, and finds
// the key field. A row holds one value per field known when it was read; fields only ever get
// appended (NDJSON objects may introduce new ones), so earlier rows stay valid.
import { DEFAULT_KEY_FIELDS, MAX_FIELDS_JSON_CHARS, RESERVED_FIELD_NAMES, type SegmentFormat, type SegmentLimits } from '../domain/segment';
import { type AppError, Errors, withDetails } from '../errors';
import { CsvParser, type CsvParserOptions, type CsvPartOptions } from './csv-parser';
import { NdjsonParser } from './ndjson-parser';

export interface UploadRows {
  rows: string[][];
  /** The line each row starts on. */
  lines: number[];
}

export interface UploadDecoder {
  /** Fields in order of appearance; grows while NDJSON records name new ones. */
  readonly fields: readonly string[];
  /** The key field's index in `fields`; known once the first rows come out. */
  readonly keyIndex: number;
  /** The line being read, for errors found outside the parser. */
  readonly currentLine: number;
  push(text: string): UploadRows;
  /** Starts the next file of a multi-file input (CSV only); answers the rows the previous file's end completed. */
  beginPart(options: CsvPartOptions): UploadRows;
  end(): UploadRows;
}

export interface UploadDecoderOptions {
  keyField?: string;
  limits: SegmentLimits;
  /** CSV that is not an upload with a header row: the field names and the delimiter (CDM partitions). */
  csv?: CsvParserOptions;
}

export function createUploadDecoder(format: SegmentFormat, options: UploadDecoderOptions): UploadDecoder {
  return format === 'csv' ? new CsvUploadDecoder(options) : new NdjsonUploadDecoder(options);
}

class CsvUploadDecoder implements UploadDecoder {
  fields: string[] = [];
  keyIndex = -1;
  private readonly parser: CsvParser;
  private readonly options: UploadDecoderOptions;

  constructor(options: UploadDecoderOptions) {
    this.options = options;
    this.parser = new CsvParser(options.limits, options.csv);
  }

  get currentLine(): number {
    return this.parser.currentLine;
  }

  push(text: string): UploadRows {
    this.parser.push(text);
    return this.taken();
  }

  beginPart(options: CsvPartOptions): UploadRows {
    this.parser.beginPart(options);
    return this.taken();
  }

  end(): UploadRows {
    this.parser.end();
    return this.taken();
  }

  private taken(): UploadRows {
    if (this.keyIndex === -1 && this.parser.header !== undefined) this.useHeader(this.parser.header, this.parser.headerLine);
    return this.parser.take();
  }

  private useHeader(header: readonly string[], line: number): void {
    const fields = header.map((name) => name.trim());
    fields.forEach((name, index) => {
      const column = index + 1;
      if (name === '') throw malformedHeader(line, `header field ${column} is empty`);
      if (name.length > this.options.limits.maxFieldNameChars) {
        throw limitExceeded('maxFieldNameChars', this.options.limits.maxFieldNameChars, line);
      }
      if (fields.indexOf(name) !== index) throw malformedHeader(line, `header field '${name}' appears twice`);
      if (RESERVED_FIELD_NAMES.has(name)) throw malformedHeader(line, reservedName(name));
    });
    if (JSON.stringify(fields).length > MAX_FIELDS_JSON_CHARS) throw fieldsTooLong(line);
    this.fields = fields;
    this.keyIndex = findKeyIndex(fields, this.options.keyField, line);
  }
}

class NdjsonUploadDecoder implements UploadDecoder {
  readonly fields: string[] = [];
  keyIndex = -1;
  /** `JSON.stringify(fields).length`, kept as fields arrive. */
  private fieldsJsonChars = 2;
  private readonly indexByName = new Map<string, number>();
  private readonly parser: NdjsonParser;
  private readonly options: UploadDecoderOptions;

  constructor(options: UploadDecoderOptions) {
    this.options = options;
    this.parser = new NdjsonParser(options.limits);
  }

  get currentLine(): number {
    return this.parser.currentLine;
  }

  push(text: string): UploadRows {
    this.parser.push(text);
    return this.toRows();
  }

  beginPart(): UploadRows {
    throw new Error('Multi-file input is CSV only');
  }

  end(): UploadRows {
    this.parser.end();
    return this.toRows();
  }

  private toRows(): UploadRows {
    const { records, lines } = this.parser.take();
    const rows: string[][] = new Array<string[]>(records.length);
    for (let r = 0; r < records.length; r++) {
      const { names, values } = records[r]!;
      const line = lines[r]!;
      if (this.keyIndex === -1) this.keyIndex = findKeyIndex(this.fieldsWith(names, line), this.options.keyField, line);
      const indexes = names.map((name) => this.indexOf(name, line));
      const row = new Array<string>(this.fields.length).fill('');
      for (let i = 0; i < indexes.length; i++) row[indexes[i]!] = values[i]!;
      rows[r] = row;
    }
    return { rows, lines };
  }

  /** Registers `names` and answers every field known afterwards. */
  private fieldsWith(names: readonly string[], line: number): string[] {
    for (const name of names) this.indexOf(name, line);
    return this.fields;
  }

  private indexOf(name: string, line: number): number {
    const known = this.indexByName.get(name);
    if (known !== undefined) return known;
    const { maxFieldNameChars, maxFieldsPerRecord } = this.options.limits;
    if (name.trim() === '') throw malformedJson(line, 'a property name is empty');
    if (name.length > maxFieldNameChars) throw limitExceeded('maxFieldNameChars', maxFieldNameChars, line);
    // The union of all fields is bounded too: a segment's fields are stored with its metadata.
    if (this.fields.length >= maxFieldsPerRecord) throw limitExceeded('maxFieldsPerRecord', maxFieldsPerRecord, line);
    if (RESERVED_FIELD_NAMES.has(name)) throw malformedJson(line, reservedName(name));
    this.fieldsJsonChars += JSON.stringify(name).length + (this.fields.length > 0 ? 1 : 0);
    if (this.fieldsJsonChars > MAX_FIELDS_JSON_CHARS) throw fieldsTooLong(line);
    this.fields.push(name);
    this.indexByName.set(name, this.fields.length - 1);
    return this.fields.length - 1;
  }
}

/** `keyField` when given, else the first of the default key fields (exact name, then any case). */
function findKeyIndex(fields: readonly string[], keyField: string | undefined, line: number): number {
  if (keyField !== undefined) {
    const index = fields.indexOf(keyField);
    if (index === -1) throw keyMissing(`The key field '${keyField}' is not among the fields (${fields.join(', ')})`, line);
    return index;
  }
  for (const candidate of DEFAULT_KEY_FIELDS) {
    const index = fields.indexOf(candidate);
    if (index !== -1) return index;
  }
  for (const candidate of DEFAULT_KEY_FIELDS) {
    const index = fields.findIndex((field) => field.toLowerCase() === candidate.toLowerCase());
    if (index !== -1) return index;
  }
  throw keyMissing(
    `No profile key: add a ${DEFAULT_KEY_FIELDS.join(' or ')} field or name the key field with ?keyField=`,
    line,
  );
}

function keyMissing(message: string, line: number): AppError {
  return Errors.segmentKeyMissing(`${message} (line ${line})`, { details: { line } });
}

function malformedHeader(line: number, reason: string): AppError {
  return Errors.segmentCsvMalformed(line, 1, reason, { details: { line, column: 1, reason } });
}

function malformedJson(line: number, reason: string): AppError {
  return Errors.segmentJsonMalformed(line, 1, reason, { details: { line, column: 1, reason } });
}

function reservedName(name: string): string {
  return `'${name}' cannot be a field name (${[...RESERVED_FIELD_NAMES].join(', ')} are reserved)`;
}

/** The fields are stored as one JSON string property, which Table storage holds up to 32K characters. */
function fieldsTooLong(line: number): AppError {
  const limit = 'fieldsJsonChars';
  return withDetails(Errors.segmentLimitExceeded(limit, MAX_FIELDS_JSON_CHARS, line), { line, limit, max: MAX_FIELDS_JSON_CHARS });
}

function limitExceeded(limit: keyof SegmentLimits, max: number, line: number): AppError {
  return Errors.segmentLimitExceeded(limit, max, line, { details: { line, limit, max } });
}
