// Streams a segment version's members from Blob storage, part after part, with memory bounded by
// one decompressed chunk: nothing of the segment is held except the (usually empty) list of
// records that a later record with the same key replaced. Hold the version (see
// `acquireSegmentVersion`) while reading so that a cleanup cannot delete it underneath.
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import type { SegmentMember } from '../domain/segment';
import { Errors } from '../errors';
import { getEntity } from '../storage/tables';
import { parseStoredLines } from './codec';
import { partBlobName, supersededBlobName } from './layout';
import { segmentsTable, versionPartition, versionRowKey, versionRowSchema } from './table';

const GUNZIP_CHUNK_BYTES = 128 * 1024;
const DOWNLOAD_RETRIES = 5;

/** Members one by one. */
export async function* readSegment(
  context: AppContext,
  segmentId: string,
  version: string,
  options: OperationOptions = {},
): AsyncGenerator<SegmentMember, void, undefined> {
  for await (const batch of readSegmentBatches(context, segmentId, version, options)) yield* batch;
}

/** Members in batches of a few hundred; 404 `not_found` when the version is gone. */
export async function* readSegmentBatches(
  context: AppContext,
  segmentId: string,
  version: string,
  options: OperationOptions = {},
): AsyncGenerator<SegmentMember[], void, undefined> {
  let toMember: ((values: readonly string[]) => SegmentMember) | undefined;
  for await (const batch of readSegmentRows(context, segmentId, version, options)) {
    toMember ??= memberBuilder(batch);
    yield batch.rows.map(toMember);
  }
}

/** Stored rows of a version: each row's values in the order of `fields` (a row may be shorter: missing values are empty). */
export interface SegmentRows {
  fields: readonly string[];
  keyField: string;
  rows: readonly (readonly string[])[];
}

/**
 * The members as stored rows, in batches of a few hundred, for callers that count every
 * microsecond (the planner reads ten million of them twice): no object per member. 404
 * `not_found` when the version is gone.
 */
export async function* readSegmentRows(
  context: AppContext,
  segmentId: string,
  version: string,
  options: OperationOptions = {},
): AsyncGenerator<SegmentRows, void, undefined> {
  const { abortSignal } = options;
  const row = await getEntity(segmentsTable(context), versionPartition(segmentId), versionRowKey(version), versionRowSchema, { abortSignal });
  if (!row) throw Errors.notFound('Segment version', `${segmentId}/${version}`);
  const container = context.storage.container(context.storage.names.containers.segments);
  const superseded = row.supersededCount > 0 ? await readSuperseded(container, segmentId, version, { abortSignal }) : new Uint32Array(0);
  const { fields, keyField } = row;
  let ordinal = 0;
  let nextSkip = 0;
  for (let part = 0; part < row.partCount; part++) {
    for await (const rows of readPartRows(container, partBlobName(segmentId, version, part), { abortSignal })) {
      if (nextSkip >= superseded.length || superseded[nextSkip]! >= ordinal + rows.length) {
        ordinal += rows.length;
        if (rows.length > 0) yield { fields, keyField, rows };
        continue;
      }
      const kept: string[][] = [];
      for (const values of rows) {
        if (nextSkip < superseded.length && superseded[nextSkip] === ordinal) nextSkip++;
        else kept.push(values);
        ordinal++;
      }
      if (kept.length > 0) yield { fields, keyField, rows: kept };
    }
  }
}

/**
 * Builds members from stored rows (values aligned with the version's fields). The values live on a
 * null-prototype object: a field named `__proto__` or `constructor` (uploads refuse them now; older
 * versions may have one) is then just a field, never the prototype.
 */
function memberBuilder(row: Pick<SegmentRows, 'fields' | 'keyField'>): (values: readonly string[]) => SegmentMember {
  const { fields } = row;
  const keyIndex = fields.indexOf(row.keyField);
  const count = fields.length;
  return (stored) => {
    const values = Object.create(null) as Record<string, string>;
    for (let i = 0; i < count; i++) values[fields[i]!] = stored[i] ?? '';
    return { key: (stored[keyIndex] ?? '').trim(), values };
  };
}

/** The rows of one part, a decompressed chunk at a time. */
async function* readPartRows(container: ContainerClient, blobName: string, options: OperationOptions): AsyncGenerator<string[][]> {
  const { abortSignal } = options;
  const response = await container.getBlobClient(blobName).download(0, undefined, { abortSignal, maxRetryRequests: DOWNLOAD_RETRIES });
  const body = response.readableStreamBody as Readable | undefined;
  if (!body) throw new Error(`Blob ${blobName} has no body`);
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
  // Errors of either stream end the iteration below; the callback only has to exist.
  pipeline(body, gunzip, () => undefined);
  const text = new TextDecoder('utf-8');
  let carry = '';
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      abortSignal?.throwIfAborted();
      const decoded = carry + text.decode(chunk, { stream: true });
      const end = decoded.lastIndexOf('\n');
      if (end === -1) {
        carry = decoded;
        continue;
      }
      carry = decoded.slice(end + 1);
      yield parseStoredLines(decoded.slice(0, end));
    }
    const rest = carry + text.decode();
    if (rest.trim() !== '') throw new Error(`Blob ${blobName} ends in the middle of a record`);
  } finally {
    body.destroy();
    gunzip.destroy();
  }
}

async function readSuperseded(
  container: ContainerClient,
  segmentId: string,
  version: string,
  options: OperationOptions,
): Promise<Uint32Array> {
  const bytes = await container.getBlobClient(supersededBlobName(segmentId, version)).downloadToBuffer(0, undefined, { abortSignal: options.abortSignal });
  const ordinals = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < ordinals.length; i++) ordinals[i] = bytes.readUInt32LE(i * 4);
  return ordinals;
}
