import { TextDecoder } from 'node:util';
import type { AppContext } from '../app/context';
import {
  DEFAULT_SEGMENT_LIMITS,
  type DuplicateKeysReport,
  type SegmentFormat,
  type SegmentLimits,
  type SegmentUploadResult,
} from '../domain/segment';
import { AppError, Errors, withDetails } from '../errors';
import { encodeRow } from './codec';
import { commitVersion } from './commit';
import { newSegmentVersion } from './layout';
import { createUploadDecoder, type UploadDecoder, type UploadRows } from './upload-decoder';
import { cleanupSegment } from './versions';
import { VersionWriter } from './version-writer';

/**
 * The one ingestion path, used by the API and the CLI: streams an upload into a new version and
 * makes it current only when every record was read and stored. Any failure removes the version's
 * blobs and leaves the previous version current.
 */
export interface IngestSegmentOptions {
  segmentId: string;
  /** The segment's display name; kept (or the id, for a new segment) when absent. */
  name?: string;
  keyField?: string;
  format: SegmentFormat;
  /** The upload's bytes (a web ReadableStream or a Node stream both qualify); null is an empty upload. */
  body: AsyncIterable<Uint8Array> | null;
  /** Who uploads (recorded as `updatedBy`). */
  uploadedBy: string;
  /** Over the app's settings (`context.config.segmentLimits`), which are over the defaults. */
  limits?: Partial<SegmentLimits>;
  /** Called once every record is stored, just before the version becomes current; a throw discards it. */
  beforeCommit?: () => Promise<unknown>;
  recordsPerPart?: number;
  abortSignal?: AbortSignal;
  onProgress?: (progress: IngestProgress) => void;
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
  const decoder = createUploadDecoder(options.format, { keyField: options.keyField, limits });
  const textDecoder = new TextDecoder('utf-8', { fatal: true });
  const members = new MemberKeys(limits.maxRecords);
  const { abortSignal, onProgress } = options;
  let bodyBytes = 0;

  const store = async ({ rows, lines }: UploadRows): Promise<void> => {
    const keyIndex = decoder.keyIndex;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      members.add(row[keyIndex]!, lines[r]!);
      const flushed = writer.append(encodeRow(row));
      if (flushed) await flushed;
    }
  };

  if (options.body) {
    for await (const chunk of options.body) {
      abortSignal?.throwIfAborted();
      bodyBytes += chunk.byteLength;
      if (bodyBytes > limits.maxBodyBytes) {
        const line = decoder.currentLine;
        throw withDetails(Errors.segmentTooLarge(limits.maxBodyBytes, line), { line, limit: 'maxBodyBytes', max: limits.maxBodyBytes });
      }
      await store(decoder.push(decodeText(textDecoder, chunk, decoder)));
      onProgress?.({ bodyBytes, records: members.records });
    }
  }
  await store(decoder.push(decodeText(textDecoder, undefined, decoder)));
  await store(decoder.end());
  if (members.records === 0) throw withDetails(Errors.segmentEmpty(), { line: decoder.currentLine });

  const superseded = members.supersededOrdinals();
  if (superseded.length > 0) await writer.writeSuperseded(superseded);
  const partCount = await writer.finish();
  onProgress?.({ bodyBytes, records: members.records });
  return {
    fields: [...decoder.fields],
    keyField: decoder.fields[decoder.keyIndex]!,
    recordCount: members.records,
    partCount,
    duplicateKeys: { count: superseded.length, examples: members.examples },
  };
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
 * supersedes the earlier record (last one wins). Only keys are held, never records.
 */
class MemberKeys {
  records = 0;
  readonly examples: { key: string; line: number }[] = [];
  private readonly ordinals = new Map<string, number>();
  private superseded: number[] = [];
  private readonly maxRecords: number;

  constructor(maxRecords: number) {
    this.maxRecords = maxRecords;
  }

  add(value: string, line: number): void {
    const key = value.trim();
    if (key === '') throw withDetails(Errors.segmentKeyMissing(`The record at line ${line} has no profile key`), { line });
    if (this.records >= this.maxRecords) {
      throw withDetails(Errors.segmentLimitExceeded('maxRecords', this.maxRecords, line), { line, limit: 'maxRecords', max: this.maxRecords });
    }
    const previous = this.ordinals.get(key);
    if (previous === undefined) {
      this.ordinals.set(detached(key), this.records);
    } else {
      this.superseded.push(previous);
      this.ordinals.set(key, this.records);
      if (this.examples.length < DUPLICATE_EXAMPLES) this.examples.push({ key, line });
    }
    this.records++;
  }

  supersededOrdinals(): Uint32Array {
    const ordinals = Uint32Array.from(this.superseded).sort();
    this.superseded = [];
    return ordinals;
  }
}

/**
 * A copy of `text` that does not point into the chunk it was cut from: V8 represents longer
 * substrings as views of their parent, and a map of keys would otherwise keep every chunk alive.
 */
function detached(text: string): string {
  return text.length < 13 ? text : Buffer.from(text, 'utf8').toString('utf8');
}
