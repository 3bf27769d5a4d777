// What a source's folder holds now: per entity the newest export (its description file, which is
// the idempotency key), the partitions to read in order and how to read them. Reading changes
// nothing; a description that cannot be read is a problem of the folder, an entity that cannot be
// read is a problem of that entity, and neither touches any segment.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import type { Source, SourceFile, SourceProblem } from '../domain/source';
import { AppError, Errors, withDetails } from '../errors';
import type { OperationOptions } from '../app/operation';
import { readEntityDocument, readManifest, readModelJson, type CdmEntity } from './cdm';
import { csvFormatOf } from './csv-format';
import { locateBlob } from './locations';

export interface PartitionRef {
  blobName: string;
  /** The partition starts with a header row (CDM `columnHeaders`). */
  headerRow: boolean;
}

/** One entity of the folder with everything its ingestion needs. */
export interface EntityCandidate {
  entity: string;
  segmentId: string;
  /** The segment's display name. */
  name: string;
  keyField?: string;
  /** The description (CDM) or the file (csv-folder): what the ingestion is idempotent by. */
  file: SourceFile;
  format: 'csv' | 'ndjson';
  /** CDM: the attribute names and the delimiter (the partitions have no header of their own unless `headerRow`). */
  csv?: { columns: string[]; delimiter: string };
  partitions: PartitionRef[];
  /** The entity cannot be read as described (unsupported format, a partition outside the container). */
  problem?: AppError;
}

export interface FolderScan {
  candidates: EntityCandidate[];
  problems: SourceProblem[];
}

/** A description file is small; anything much larger is not one. */
const MAX_DESCRIPTION_BYTES = 16 * 1024 * 1024;
const SEGMENT_FILE = /\.(csv|ndjson|jsonl)$/i;

export async function scanFolder(container: ContainerClient, source: Source, now: Date, options: OperationOptions = {}): Promise<FolderScan> {
  try {
    return source.kind === 'cdm-folder' ? await scanCdmFolder(container, source, now, options) : await scanCsvFolder(container, source, options);
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    const path = `${source.location.container}/${source.location.prefix}`;
    return { candidates: [], problems: [{ code: 'not_found', message: `The container '${source.location.container}' does not exist`, path, at: now.toISOString() }] };
  }
}

async function scanCdmFolder(container: ContainerClient, source: Source, now: Date, options: OperationOptions): Promise<FolderScan> {
  const newest = new Map<string, EntityCandidate>();
  const problems: SourceProblem[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: source.location.prefix, abortSignal: options.abortSignal })) {
    const base = posix.basename(blob.name);
    if (base !== 'model.json' && !base.endsWith('.manifest.cdm.json')) continue;
    try {
      const { file, entities } = await readDescription(container, blob.name, options);
      for (const entity of entities) {
        const candidate = cdmCandidate(source, file, entity, container.url);
        const known = candidate && newest.get(candidate.entity);
        if (candidate && (!known || known.file.lastModified < candidate.file.lastModified)) newest.set(candidate.entity, candidate);
      }
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      problems.push(problemOf(error, blob.name, now));
    }
  }
  return { candidates: [...newest.values()], problems };
}

async function readDescription(container: ContainerClient, blobName: string, options: OperationOptions): Promise<{ file: SourceFile; entities: CdmEntity[] }> {
  const { text, file } = await readText(container, blobName, options);
  if (posix.basename(blobName) === 'model.json') return { file, entities: readModelJson(text, blobName) };
  const entities: CdmEntity[] = [];
  for (const entity of readManifest(text, blobName)) {
    // `entityPath` is `<schema document>/<entity name>`.
    const suffix = `/${entity.name}`;
    const documentLocation = entity.documentLocation.endsWith(suffix) ? entity.documentLocation.slice(0, -suffix.length) : entity.documentLocation;
    const located = locateBlob(documentLocation, blobName, container.url);
    if (!located.ok) throw withDetails(Errors.sourceModelInvalid(blobName, `entity '${entity.name}': ${located.reason}`), { path: blobName });
    const document = await readText(container, located.blobName, options);
    entities.push({ name: entity.name, attributes: readEntityDocument(document.text, located.blobName, entity.name), partitions: entity.partitions });
  }
  return { file, entities };
}

async function readText(container: ContainerClient, blobName: string, options: OperationOptions): Promise<{ text: string; file: SourceFile }> {
  const response = await container.getBlobClient(blobName).download(0, MAX_DESCRIPTION_BYTES + 1, { abortSignal: options.abortSignal });
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of response.readableStreamBody ?? []) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    bytes += buffer.byteLength;
    chunks.push(buffer);
  }
  if (bytes > MAX_DESCRIPTION_BYTES) throw withDetails(Errors.sourceModelInvalid(blobName, `larger than ${MAX_DESCRIPTION_BYTES} bytes`), { path: blobName });
  const file = { path: blobName, etag: response.etag ?? '', lastModified: (response.lastModified ?? new Date(0)).toISOString() };
  return { text: Buffer.concat(chunks).toString('utf8'), file };
}

/** The candidate of one CDM entity, or undefined when the source does not take that entity. */
function cdmCandidate(source: Source, file: SourceFile, entity: CdmEntity, containerUrl: string): EntityCandidate | undefined {
  const target = segmentFor(source, entity.name);
  if (!target) return undefined;
  const base = { entity: entity.name, ...target, file, format: 'csv' as const };
  try {
    const formats = entity.partitions.map((partition, index) => csvFormatOf(partition.settings, `${file.path} (${entity.name}, partition ${index + 1})`));
    const delimiters = new Set(formats.map((format) => format.delimiter));
    if (delimiters.size > 1) throw withDetails(Errors.sourceFormatUnsupported(file.path, `the partitions of '${entity.name}' use different delimiters`), { path: file.path });
    checkAttributes(entity, file.path);
    const partitions = entity.partitions.map((partition, index) => {
      const located = locateBlob(partition.location, file.path, containerUrl);
      if (!located.ok) throw withDetails(Errors.sourceModelInvalid(file.path, `entity '${entity.name}': ${located.reason}`), { path: file.path });
      return { blobName: located.blobName, headerRow: formats[index]!.headerRow };
    });
    return { ...base, csv: { columns: entity.attributes, delimiter: formats[0]!.delimiter }, partitions };
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { ...base, partitions: [], problem: error };
  }
}

/** Attribute names become the segment's fields: distinct and not too long. */
function checkAttributes(entity: CdmEntity, path: string): void {
  const seen = new Set<string>();
  for (const name of entity.attributes.map((attribute) => attribute.trim())) {
    if (name.length > 128) throw withDetails(Errors.sourceModelInvalid(path, `entity '${entity.name}': attribute '${name.slice(0, 40)}…' is longer than 128 characters`), { path });
    if (seen.has(name)) throw withDetails(Errors.sourceModelInvalid(path, `entity '${entity.name}': attribute '${name}' appears twice`), { path });
    seen.add(name);
  }
}

/** csv-folder: per sub-folder, its newest CSV or NDJSON file. */
async function scanCsvFolder(container: ContainerClient, source: Source, options: OperationOptions): Promise<FolderScan> {
  const { prefix } = source.location;
  const newest = new Map<string, EntityCandidate>();
  for await (const blob of container.listBlobsFlat({ prefix, abortSignal: options.abortSignal })) {
    const [folder, ...rest] = blob.name.slice(prefix.length).split('/');
    const extension = SEGMENT_FILE.exec(blob.name)?.[1]?.toLowerCase();
    if (!folder || rest.length === 0 || !extension) continue;
    const target = segmentFor(source, folder);
    if (!target) continue;
    // A listing names the ETag bare; the file's key uses the quoted form that reads answer with.
    const etag = blob.properties.etag ?? '';
    const file = { path: blob.name, etag: etag.startsWith('"') ? etag : `"${etag}"`, lastModified: blob.properties.lastModified.toISOString() };
    const known = newest.get(folder);
    if (known && (known.file.lastModified > file.lastModified || (known.file.lastModified === file.lastModified && known.file.path > file.path))) continue;
    newest.set(folder, { entity: folder, ...target, file, format: extension === 'csv' ? 'csv' : 'ndjson', partitions: [{ blobName: blob.name, headerRow: false }] });
  }
  return { candidates: [...newest.values()], problems: [] };
}

/** The segment an entity feeds: as the source maps it, or (no mapping) an id derived from its name. */
export function segmentFor(source: Source, entity: string): { segmentId: string; name: string; keyField?: string } | undefined {
  if (source.entities) {
    const mapped = source.entities.find((item) => item.entity === entity);
    return mapped && { segmentId: mapped.segmentId, name: mapped.name ?? entity.slice(0, 200), ...(mapped.keyField ? { keyField: mapped.keyField } : {}) };
  }
  return { segmentId: segmentIdFor(entity), name: entity.trim().slice(0, 200) || entity };
}

/** `HighValueSegment` stays as it is; a name with other characters gets them replaced and a digest, so two names never meet. */
export function segmentIdFor(entity: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(entity)) return entity;
  const digest = createHash('sha256').update(entity).digest('hex').slice(0, 8);
  const cleaned = entity.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 55).replace(/[-_]+$/, '');
  return `${cleaned || 'entity'}-${digest}`;
}

/** An upload or description error as the source shows it: the file, and the line and column when known. */
export function problemOf(error: AppError, path: string, now: Date): SourceProblem {
  const details = (typeof error.details === 'object' && error.details !== null ? error.details : {}) as { line?: unknown; column?: unknown };
  const problem: SourceProblem = { code: error.code, message: error.message, path, at: now.toISOString() };
  if (typeof details.line === 'number') problem.line = details.line;
  if (typeof details.column === 'number') problem.column = details.column;
  return problem;
}
