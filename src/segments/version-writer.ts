// Writes one segment version to Blob storage as it streams in: encoded lines are buffered, gzip'd
// and uploaded block by block into parts of about `recordsPerPart` records, so memory stays at a
// few buffers whatever the segment's size. Nothing is current until the caller commits the
// version; `discard` removes whatever was written.
import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';
import type { OperationOptions } from '../app/operation';
import { isNotFound } from '../storage/tables';
import { partBlobName, RECORDS_PER_PART, supersededBlobName, versionPrefix } from './layout';

export interface VersionWriterOptions extends OperationOptions {
  recordsPerPart?: number;
}

/** Text buffered before it goes to gzip: large enough that per-write overhead vanishes. */
const FLUSH_AT_CHARS = 256 * 1024;
const UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024;
const UPLOAD_CONCURRENCY = 2;
const DISCARD_TIMEOUT_IN_MS = 60_000;

interface OpenPart {
  gzip: Gzip;
  /** Settles when the part's blob is committed; rejects when its upload fails. */
  uploaded: Promise<void>;
  /** Rejects as soon as the upload fails; never resolves. Raced against `drain`. */
  failed: Promise<never>;
  records: number;
}

export class VersionWriter {
  private readonly container: ContainerClient;
  private readonly segmentId: string;
  private readonly version: string;
  private readonly recordsPerPart: number;
  private readonly abortSignal: AbortSignal | undefined;
  /** Aborts the part upload in flight when the version is discarded. */
  private readonly discarded = new AbortController();
  private part: OpenPart | undefined;
  private partCount = 0;
  private buffer = '';
  private bufferedRecords = 0;

  constructor(container: ContainerClient, segmentId: string, version: string, options: VersionWriterOptions = {}) {
    this.container = container;
    this.segmentId = segmentId;
    this.version = version;
    this.recordsPerPart = options.recordsPerPart ?? RECORDS_PER_PART;
    this.abortSignal = options.abortSignal ? AbortSignal.any([options.abortSignal, this.discarded.signal]) : this.discarded.signal;
  }

  /**
   * Adds one encoded record (ending in a line break). Returns a promise only when the buffer went
   * to storage, so the caller awaits rarely: `const flushed = writer.append(line); if (flushed) await flushed;`.
   */
  append(line: string): Promise<void> | undefined {
    this.buffer += line;
    this.bufferedRecords++;
    return this.buffer.length >= FLUSH_AT_CHARS ? this.flush() : undefined;
  }

  /** Writes what is buffered and commits the last part; answers how many parts the version has. */
  async finish(): Promise<number> {
    await this.flush();
    await this.closePart();
    return this.partCount;
  }

  /** Stores the ordinals of superseded records (ascending) beside the parts. */
  async writeSuperseded(ordinals: Uint32Array): Promise<void> {
    const bytes = Buffer.alloc(ordinals.length * 4);
    for (let i = 0; i < ordinals.length; i++) bytes.writeUInt32LE(ordinals[i]!, i * 4);
    const blob = this.container.getBlockBlobClient(supersededBlobName(this.segmentId, this.version));
    await blob.uploadData(bytes, { abortSignal: this.abortSignal, blobHTTPHeaders: { blobContentType: 'application/octet-stream' } });
  }

  /** Stops writing and deletes every blob of this version (parts not yet committed vanish by themselves). */
  async discard(): Promise<void> {
    const part = this.part;
    this.part = undefined;
    this.buffer = '';
    if (part) {
      // The upload ends only on the stream's 'end' or 'error': destroying it quietly would leave it waiting.
      this.discarded.abort();
      part.gzip.destroy(new Error('The segment version was discarded'));
      await part.uploaded.catch(() => undefined);
    }
    await deleteVersionBlobs(this.container, this.segmentId, this.version, { abortSignal: AbortSignal.timeout(DISCARD_TIMEOUT_IN_MS) });
  }

  private async flush(): Promise<void> {
    if (this.bufferedRecords === 0) return;
    const part = this.part ?? this.openPart();
    const bytes = Buffer.from(this.buffer, 'utf8');
    part.records += this.bufferedRecords;
    this.buffer = '';
    this.bufferedRecords = 0;
    if (!part.gzip.write(bytes)) await Promise.race([once(part.gzip, 'drain'), part.failed]);
    if (part.records >= this.recordsPerPart) await this.closePart();
  }

  private openPart(): OpenPart {
    const gzip = createGzip({ level: 1 });
    const blob = this.container.getBlockBlobClient(partBlobName(this.segmentId, this.version, this.partCount));
    this.partCount++;
    const uploaded = blob
      .uploadStream(gzip, UPLOAD_BLOCK_BYTES, UPLOAD_CONCURRENCY, {
        abortSignal: this.abortSignal,
        blobHTTPHeaders: { blobContentType: 'application/gzip' },
      })
      .then(() => undefined);
    const failed = uploaded.then(
      () => new Promise<never>(() => undefined),
      (error: unknown) => Promise.reject(error instanceof Error ? error : new Error(String(error))),
    );
    // Raced only while a write waits for `drain`; the rejection is observed through `uploaded`.
    failed.catch(() => undefined);
    this.part = { gzip, uploaded, failed, records: 0 };
    return this.part;
  }

  private async closePart(): Promise<void> {
    const part = this.part;
    if (!part) return;
    this.part = undefined;
    part.gzip.end();
    await part.uploaded;
  }
}

/** Deletes every blob under a version's folder; already gone is fine. */
export async function deleteVersionBlobs(
  container: ContainerClient,
  segmentId: string,
  version: string,
  options: OperationOptions = {},
): Promise<void> {
  const { abortSignal } = options;
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: versionPrefix(segmentId, version), abortSignal })) names.push(blob.name);
  await Promise.all(names.map((name) => container.deleteBlob(name, { abortSignal }).catch(ignoreNotFound)));
}

function ignoreNotFound(error: unknown): void {
  if (!isNotFound(error)) throw error;
}
