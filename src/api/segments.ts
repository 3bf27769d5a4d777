// Request parsing for the segment routes, and the decisions that involve exports; the handlers
// are in `functions/segments-*.ts`.
import type { HttpRequest } from '@azure/functions';
import { DEFAULT_SEGMENT_LIMITS, SEGMENT_CONTENT_TYPES, segmentIdSchema, segmentUploadQuerySchema, type SegmentFormat, type SegmentUploadResult } from '../domain/segment';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { getConnection } from '../connections/repository';
import { missingMappedFields } from '../domain/export';
import { canUseExport, type Principal } from '../domain/policy';
import { Errors } from '../errors';
import { exportsUsingSegment, type StoredExport } from '../exports/repository';
import { ingestSegment } from '../segments/ingest';
import { deleteSegment, getSegment } from '../segments/repository';
import { audit, auditChanges } from './audit';
import { startCleanupRun } from './exports';
import { parseWith } from './validation';

export function readSegmentId(request: HttpRequest): string {
  return parseWith(segmentIdSchema, request.params.segmentId, 'segment id');
}

export interface SegmentUploadRequest {
  segmentId: string;
  name: string | undefined;
  keyField: string | undefined;
  format: SegmentFormat;
  /** Accept an upload that lacks a mapped field. */
  force: boolean;
}

/**
 * What a `PUT /api/segments/{segmentId}` asks for: the format from `Content-Type` (`text/csv` or
 * `application/x-ndjson`, UTF-8), `name` and `keyField` from the query. The body is read later, as
 * a stream; a declared length over the limit is refused before reading.
 */
export function parseSegmentUpload(request: HttpRequest): SegmentUploadRequest {
  const segmentId = readSegmentId(request);
  const query = parseWith(segmentUploadQuerySchema, Object.fromEntries(request.query.entries()), 'query string');
  const contentType = request.headers.get('content-type') ?? '';
  const [mediaType = '', ...parameters] = contentType.split(';').map((part) => part.trim().toLowerCase());
  const format = SEGMENT_CONTENT_TYPES[mediaType];
  const charset = parameters.find((parameter) => parameter.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (!format || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    throw Errors.unsupportedMediaType(contentType || '(none)', 'text/csv or application/x-ndjson (UTF-8)');
  }
  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') throw Errors.unsupportedMediaType(`${contentType} (${encoding})`, 'an uncompressed body');
  const declaredBytes = Number(request.headers.get('content-length') ?? '0');
  const { maxBodyBytes } = DEFAULT_SEGMENT_LIMITS;
  if (declaredBytes > maxBodyBytes) {
    throw Errors.segmentTooLarge(maxBodyBytes, 1, { details: { line: 1, limit: 'maxBodyBytes', max: maxBodyBytes } });
  }
  return { segmentId, name: query.name, keyField: query.keyField, format, force: query.force === 'true' };
}

export interface UploadSegmentOptions {
  upload: SegmentUploadRequest;
  body: AsyncIterable<Uint8Array> | null;
  principal: Principal;
}

/**
 * `PUT /api/segments/{segmentId}`: an upload that lacks a field mapped by an export using the
 * segment is refused (409 `mapping_field_missing`, naming the exports the caller may see) unless
 * forced; a renamed segment starts a cleanup run of each export that uses it, which takes its
 * members out of the list or tag of the old name.
 */
export async function uploadSegment(context: AppContext, { upload, body, principal }: UploadSegmentOptions): Promise<SegmentUploadResult> {
  const before = await getSegment(context, upload.segmentId);
  const users = await exportsUsingSegment(context, upload.segmentId);
  const checkFields = async (fields: readonly string[]): Promise<void> => {
    if (upload.force) return;
    const missing = users.flatMap((stored) => missingMappedFields(stored.export.mapping, [{ id: upload.segmentId, fields }]).map((gap) => ({ stored, gap })));
    if (missing.length === 0) return;
    const visible = await visibleExportIds(context, principal, missing.map(({ stored }) => stored));
    const missingFields = [...new Set(missing.flatMap(({ gap }) => gap.fields))];
    throw Errors.mappingFieldMissing(missingFields, { details: { missingFields, exportIds: visible } });
  };
  const result = await ingestSegment(context, { ...upload, body, uploadedBy: principal.name, checkFields });
  await audit(context, principal, {
    action: before ? 'update' : 'create',
    resourceType: 'segment',
    resourceId: upload.segmentId,
    summary: upload.force ? 'uploaded with force (a mapped field may be missing)' : undefined,
    changes: auditChanges(before && pickSegment(before), pickSegment(result)),
  });
  if (before && before.name !== result.name) {
    for (const stored of users) await startCleanupRun(context, stored.export.id, principal);
  }
  return result;
}

async function visibleExportIds(context: AppContext, principal: Principal, exports: readonly StoredExport[]): Promise<string[]> {
  const ids: string[] = [];
  for (const stored of exports) {
    const connection = (await getConnection(context, stored.export.connectionId))?.connection;
    if (canUseExport(principal, connection) && !ids.includes(stored.export.id)) ids.push(stored.export.id);
  }
  return ids;
}

function pickSegment(segment: { name: string; memberCount: number; fields: readonly string[]; version: string }) {
  return { name: segment.name, memberCount: segment.memberCount, fields: segment.fields, version: segment.version };
}

/** `DELETE /api/segments/{segmentId}`, recorded in the audit log. */
export async function deleteAuditedSegment(context: AppContext, principal: Principal, segmentId: string): Promise<void> {
  const before = await getSegment(context, segmentId);
  await deleteUnusedSegment(context, segmentId);
  await audit(context, principal, { action: 'delete', resourceType: 'segment', resourceId: segmentId, changes: auditChanges(before && pickSegment(before), undefined) });
}

/** `DELETE /api/segments/{segmentId}`: refused (409 `segment_in_use`) while an export uses the segment. */
export async function deleteUnusedSegment(context: AppContext, segmentId: string, options: OperationOptions = {}): Promise<void> {
  const exportIds = (await exportsUsingSegment(context, segmentId, options)).map((stored) => stored.export.id);
  if (exportIds.length > 0) throw Errors.segmentInUse(exportIds, { details: { exportIds } });
  await deleteSegment(context, segmentId, options);
}
