// Where a segment version's blobs live, and how version ids are made. A version is a folder
// `{segmentId}/{version}/` of gzip'd parts, each holding one JSON array of field values per line
// (`["C001","ada@example.com",…]`, aligned with the version's fields), and, when the upload repeated
// keys, a sidecar listing the ordinals of the records that a later record replaced.
import { randomBytes } from 'node:crypto';
import type { SegmentVersion } from '../domain/segment';

export const RECORDS_PER_PART = 250_000;

/** A version id that sorts after every version started before `now`. */
export function newSegmentVersion(now: Date): SegmentVersion {
  return `${timestamp(now)}-${randomBytes(3).toString('hex')}`;
}

/** The greatest version id of the millisecond `now`: every upload started up to then sorts before it. */
export function versionCutoff(now: Date): SegmentVersion {
  return `${timestamp(now)}-ffffff`;
}

/** When the upload that made a version started. */
export function versionStartedAt(version: SegmentVersion): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(version);
  if (!m) throw new Error(`Not a segment version id: '${version}'`);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
}

function timestamp(now: Date): string {
  return now.toISOString().replace(/[-:.]/g, '');
}

export function versionPrefix(segmentId: string, version: string): string {
  return `${segmentId}/${version}/`;
}

export function partBlobName(segmentId: string, version: string, part: number): string {
  return `${versionPrefix(segmentId, version)}part-${String(part).padStart(5, '0')}.ndjson.gz`;
}

/** Little-endian uint32 ordinals, ascending, of records superseded by a later record with the same key. */
export function supersededBlobName(segmentId: string, version: string): string {
  return `${versionPrefix(segmentId, version)}superseded.u32`;
}

/** The segment and version a blob belongs to, from its name. */
export function parseBlobName(name: string): { segmentId: string; version: string } | undefined {
  const [segmentId, version, file] = name.split('/');
  return segmentId && version && file ? { segmentId, version } : undefined;
}
