// The one ingestion path, used by the API, the CLIs and segment sources: streams an upload into a
// new version and makes it current only when every record was read and stored. Any failure
// removes the version's blobs and leaves the previous version current.
import { TextDecoder } from 'node:util';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import {
  DEFAULT_SEGMENT_LIMITS,
  type DuplicateKeysReport,
  type SegmentFormat,
  type SegmentLimits,
  type SegmentUploadResult,
} from '../domain/segment';
import { AppError, Errors, withDetails } from '../errors';
import { hashEmail } from '../hashing/hash';
import { KeyTable } from '../hashing/key-table';
import { encodeRow } from './codec';
import { commitVersion } from './commit';
import { newSegmentVersion } from './layout';
import type { CsvParserOptions } from './csv-parser';
import { createUploadDecoder, type UploadDecoder, type UploadRows } from './upload-decoder';
import { cleanupSegment } from './versions';
import { VersionWriter } from './version-writer';

export interface IngestSegmentOptions extends OperationOptions {
  segmentId: string;
  /** The segment's display name; kept (or the id, for a new segment) when absent. */
  name?: string;
  keyField?: string;
  format: SegmentFormat;
  /** The upload's bytes (a web ReadableStream or a Node stream both qualify); null is an empty upload. */
  body: AsyncIterable<Uint8Array> | null;
  /**
   * Instead of `body`: several CSV files read in order as one upload (CDM partitions). Each is
   * decoded on its own (a BOM at its start is dropped), its last record ends with it, lines count
   * from 1 in each, and an error names the file (`details.part`).
   */
  parts?: AsyncIterable<IngestPart>;
  /** CSV without a header row of its own (the field names) and with a known delimiter. */
  csv?: CsvParserOptions;
  /** Who uploads (recorded as `updatedBy`). */
  uploadedBy: string;
  /** Asked with the upload's fields once every record is read, before the version becomes current: throwing refuses the upload. */
  checkFields?: (fields: readonly string[]) => Promise<void>;
  /** Over the app's settings (`context.config.segmentLimits`), which are over the defaults. */
  limits?: Partial<SegmentLimits>;
  /** Called once every record is stored, just before the version becomes current; a throw discards it. */
  beforeCommit?: () => Promise<unknown>;
  recordsPerPart?: number;
  onProgress?: (progress: IngestProgress) => void;
}

export interface IngestPart {
  /** How errors name the file. */
  name: string;
  body: AsyncIterable<Uint8Array>;
  /** The file starts with a header row that repeats the field names: it is checked and skipped. */
  headerRow: boolean;
}

export interface IngestProgress {
  bodyBytes: number;
  records: number;
}

const DUPLICATE_EXAMPLES = 10;

export async function ingestSegment(context: AppContext, options: IngestSegmentOptions): Promise<SegmentUploadResult> {
  const startedAt = Date.now();
  const { segmentId, abortSignal } = options;
  const version = newSegmentVersion(context.now());
  const container = context.storage.container(context.storage.names.containers.segments);
  const writer = new VersionWriter(container, segmentId, version, { recordsPerPart: options.recordsPerPart, abortSignal });
  let committed: SegmentUploadResult;
  try {
    const written = await writeUpload(writer, { ...options, limits: { ...context.config.segmentLimits, ...options.limits } });
    await options.checkFields?.(written.fields);
    await options.beforeCommit?.();
    const segment = await commitVersion(context, {
      segmentId,
      version,
      name: options.name,
      uploadedBy: options.uploadedBy,
      fields: written.fields,
      keyField: written.keyField,
      recordCount: written.recordCount,
      memberCount: written.recordCount - written.duplicateKeys.count,
      supersededCount: written.duplicateKeys.count,
      partCount: written.partCount,
      abortSignal,
    });
    committed = { ...segment, duplicateKeys: written.duplicateKeys };
  } catch (error) {
    if (error instanceof AppError && error.status < 500) {
      context.log.info('segment upload refused', { segmentId, code: error.code, details: error.details });
    }
    await writer.discard().catch((discardError: unknown) =>
      context.log.warn('segment upload left blobs behind; the cleanup sweep removes them', {
        segmentId,
        version,
        error: discardError instanceof Error ? discardError : String(discardError),
      }),
    );
    throw error;
  }
  context.log.info('segment uploaded', {
    segmentId,
    version,
    memberCount: committed.memberCount,
    duplicateKeys: committed.duplicateKeys.count,
    durationInMs: Date.now() - startedAt,
  });
  // Replaced versions go as soon as no run reads them; a failure here only delays that.
  await cleanupSegment(context, segmentId).catch((error: unknown) =>
    context.log.warn('segment cleanup failed', { segmentId, error: error instanceof Error ? error : String(error) }),
  );
  return committed;
}

interface WrittenUpload {
  fields: string[];
  keyField: string;
  recordCount: number;
  partCount: number;
  duplicateKeys: DuplicateKeysReport;
}

async function writeUpload(writer: VersionWriter, options: IngestSegmentOptions): Promise<WrittenUpload> {
  const limits: SegmentLimits = { ...DEFAULT_SEGMENT_LIMITS, ...options.limits };
  if (options.parts && options.format !== 'csv') throw new Error('Multi-file uploads are CSV only');
  const decoder = createUploadDecoder(options.format, { keyField: options.keyField, limits, csv: options.csv });
  const members = new MemberKeys(limits.maxRecords);
  const reading: ReadingState = { bodyBytes: 0, limits, decoder, members, writer, options };
  let partName: string | undefined;
  try {
    if (options.parts) {
      for await (const part of options.parts) {
        // Ending the previous part (its last record) belongs to that part.
        await store(reading, decoder.beginPart({ headerRow: part.headerRow }));
        partName = part.name;
        await readBody(reading, part.body);
      }
    } else if (options.body) {
      await readBody(reading, options.body);
    } else {
      await readBody(reading, []);
    }
    await store(reading, decoder.end());
  } catch (error) {
    throw partName === undefined ? error : inPart(error, partName);
  }
  if (members.records === 0) throw withDetails(Errors.segmentEmpty(), { line: decoder.currentLine });

  const superseded = members.supersededOrdinals();
  if (superseded.length > 0) await writer.writeSuperseded(superseded);
  const partCount = await writer.finish();
  options.onProgress?.({ bodyBytes: reading.bodyBytes, records: members.records });
  return {
    fields: [...decoder.fields],
    keyField: decoder.fields[decoder.keyIndex]!,
    recordCount: members.records,
    partCount,
    duplicateKeys: { count: superseded.length, examples: members.examples },
  };
}

interface ReadingState {
  bodyBytes: number;
  readonly limits: SegmentLimits;
  readonly decoder: UploadDecoder;
  readonly members: MemberKeys;
  readonly writer: VersionWriter;
  readonly options: IngestSegmentOptions;
}

/** Decodes one body (or one part) as UTF-8 of its own, so that each may start with a BOM. */
async function readBody(reading: ReadingState, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
  const { decoder, limits, options } = reading;
  const textDecoder = new TextDecoder('utf-8', { fatal: true });
  for await (const chunk of body) {
    options.abortSignal?.throwIfAborted();
    reading.bodyBytes += chunk.byteLength;
    if (reading.bodyBytes > limits.maxBodyBytes) {
      const line = decoder.currentLine;
      throw withDetails(Errors.segmentTooLarge(limits.maxBodyBytes, line), { line, limit: 'maxBodyBytes', max: limits.maxBodyBytes });
    }
    await store(reading, decoder.push(decodeText(textDecoder, chunk, decoder)));
    options.onProgress?.({ bodyBytes: reading.bodyBytes, records: reading.members.records });
  }
  await store(reading, decoder.push(decodeText(textDecoder, undefined, decoder)));
}

async function store(reading: ReadingState, { rows, lines }: UploadRows): Promise<void> {
  const { decoder, members, writer } = reading;
  const keyIndex = decoder.keyIndex;
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    members.add(row[keyIndex]!, lines[r]!);
    const flushed = writer.append(encodeRow(row));
    if (flushed) await flushed;
  }
}

/** An upload error found in one file of a multi-file upload, naming that file. */
function inPart(error: unknown, part: string): unknown {
  if (!(error instanceof AppError) || error.status >= 500) return error;
  const details = typeof error.details === 'object' && error.details !== null ? error.details : {};
  return new AppError(error.code, error.status, `${error.message} (in ${part})`, { details: { ...details, part }, cause: error.cause ?? error });
}

function decodeText(textDecoder: TextDecoder, chunk: Uint8Array | undefined, decoder: UploadDecoder): string {
  try {
    return chunk === undefined ? textDecoder.decode() : textDecoder.decode(chunk, { stream: true });
  } catch (cause) {
    const line = decoder.currentLine + (chunk === undefined ? 0 : linesBeforeInvalidByte(chunk));
    const error = Errors.segmentEncodingInvalid(line);
    throw new AppError(error.code, error.status, error.message, { details: { line }, cause });
  }
}

/** Line breaks in `chunk` before its first byte that is not UTF-8 (where the lenient decoder puts U+FFFD). */
function linesBeforeInvalidByte(chunk: Uint8Array): number {
  const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
  const invalid = text.indexOf('\uFFFD');
  let lines = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < invalid; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

/**
 * The profile keys seen so far, each with the ordinal of its latest record: a repeated key
 * supersedes the earlier record (last one wins). Only a 64-bit hash of each key is held, in a table
 * sized for `maxRecords` (16 bytes a record of the limit, touched only as far as keys arrive: ten
 * million in ~160 MB, where a Map of strings took ~70 bytes a key): two different keys with one
 * hash (about 3 in a million for an upload of ten million) would read as a repeat, which the
 * upload's `duplicateKeys` report names.
 */
class MemberKeys {
  records = 0;
  readonly examples: { key: string; line: number }[] = [];
  private readonly ordinals: KeyTable;
  private superseded: number[] = [];
  private readonly maxRecords: number;

  constructor(maxRecords: number) {
    this.maxRecords = maxRecords;
    this.ordinals = new KeyTable(maxRecords);
  }

  add(value: string, line: number): void {
    const key = value.trim();
    if (key === '') throw withDetails(Errors.segmentKeyMissing(`The record at line ${line} has no profile key`), { line });
    if (this.records >= this.maxRecords) {
      throw withDetails(Errors.segmentLimitExceeded('maxRecords', this.maxRecords, line), { line, limit: 'maxRecords', max: this.maxRecords });
    }
    const hash = hashEmail(key);
    const previous = this.ordinals.get(hash);
    if (previous !== undefined) {
      this.superseded.push(previous);
      if (this.examples.length < DUPLICATE_EXAMPLES) this.examples.push({ key, line });
    }
    this.ordinals.set(hash, this.records);
    this.records++;
  }

  supersededOrdinals(): Uint32Array {
    const ordinals = Uint32Array.from(this.superseded).sort();
    this.superseded = [];
    return ordinals;
  }
}
