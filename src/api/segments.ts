// Request parsing for the segment routes, and the decisions that involve exports: who may see,
// replace or delete a segment depends on the connections of the exports that use it
// (`segmentAccess` in src/domain/policy.ts). The handlers are in `functions/segments-*.ts`.
import type { HttpRequest } from '@azure/functions';
import { SEGMENT_CONTENT_TYPES, segmentIdSchema, segmentUploadQuerySchema, type Segment, type SegmentFormat, type SegmentUploadResult } from '../domain/segment';
import type { AppContext } from '../app/context';
import { getConnection } from '../connections/repository';
import type { Connection } from '../domain/connection';
import { canUseExport, isAdmin, segmentAccess, type Principal } from '../domain/policy';
import { Errors } from '../errors';
import { missingMappedFields } from '../domain/export';
import { exportsUsingSegment, listExports } from '../exports/repository';
import { ingestSegment } from '../segments/ingest';
import { deleteSegment, getSegment, listSegments, requireSegment } from '../segments/repository';
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
  /** Accept an upload that lacks a field mapped by an export that uses the segment. */
  force: boolean;
}

/**
 * What a `PUT /api/segments/{segmentId}` asks for: the format from `Content-Type` (`text/csv` or
 * `application/x-ndjson`, UTF-8), `name` and `keyField` from the query. The body is read later, as
 * a stream; a declared length over the limit is refused before reading.
 */
export function parseSegmentUpload(request: HttpRequest, maxBodyBytes: number): SegmentUploadRequest {
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
  if (declaredBytes > maxBodyBytes) {
    throw Errors.segmentTooLarge(maxBodyBytes, 1, { details: { line: 1, limit: 'maxBodyBytes', max: maxBodyBytes } });
  }
  return { segmentId, name: query.name, keyField: query.keyField, format, force: query.force === 'true' };
}

/**
 * `PUT /api/segments/{segmentId}`: streams the upload into a new version, when the caller may
 * replace the segment — checked before reading the body and again just before the version becomes
 * current, since an Admin may add the segment to a restricted export while a long upload runs. An
 * upload that lacks a field mapped by an export using the segment is refused (409
 * `mapping_field_missing`, naming the exports the caller may see) unless forced; a renamed segment
 * starts a cleanup run of each export that uses it, which takes its members out of the list or
 * tag of the old name.
 */
export async function uploadSegment(context: AppContext, principal: Principal, request: HttpRequest): Promise<SegmentUploadResult> {
  const upload = parseSegmentUpload(request, context.config.segmentLimits.maxBodyBytes);
  const mayReplace = () => requireSegmentAccess(context, principal, upload.segmentId, 'write');
  const uses = await mayReplace();
  const before = await getSegment(context, upload.segmentId);
  const users = await exportsUsingSegment(context, upload.segmentId);
  const checkFields = async (fields: readonly string[]): Promise<void> => {
    if (upload.force) return;
    const missing = users.flatMap((stored) => missingMappedFields(stored.export.mapping, [{ id: upload.segmentId, fields }]).map((gap) => ({ stored, gap })));
    if (missing.length === 0) return;
    const visible = new Set(uses.filter((use) => canUseExport(principal, use.connection)).map((use) => use.exportId));
    const exportIds = [...new Set(missing.map(({ stored }) => stored.export.id))].filter((id) => visible.has(id));
    const missingFields = [...new Set(missing.flatMap(({ gap }) => gap.fields))];
    throw Errors.mappingFieldMissing(missingFields, { details: { missingFields, exportIds } });
  };
  const beforeCommit = async (): Promise<void> => {
    await mayReplace();
  };
  const result = await ingestSegment(context, { ...upload, body: request.body, uploadedBy: principal.name, checkFields, beforeCommit });
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

/** An export that uses a segment, with its connection (undefined: the connection is gone). */
interface SegmentUse {
  exportId: string;
  connection: Connection | undefined;
}

function pickSegment(segment: { name: string; memberCount: number; fields: readonly string[]; version: string }) {
  return { name: segment.name, memberCount: segment.memberCount, fields: segment.fields, version: segment.version };
}

/** `DELETE /api/segments/{segmentId}` (see deleteUnusedSegment), recorded in the audit log. */
export async function deleteAuditedSegment(context: AppContext, principal: Principal, segmentId: string): Promise<void> {
  const before = await getSegment(context, segmentId);
  await deleteUnusedSegment(context, principal, segmentId);
  await audit(context, principal, { action: 'delete', resourceType: 'segment', resourceId: segmentId, changes: auditChanges(before && pickSegment(before), undefined) });
}

async function segmentUses(context: AppContext, segmentId: string): Promise<SegmentUse[]> {
  const connections = new ConnectionCache(context);
  const uses: SegmentUse[] = [];
  for (const stored of await exportsUsingSegment(context, segmentId)) {
    uses.push({ exportId: stored.export.id, connection: await connections.get(stored.export.connectionId) });
  }
  return uses;
}

/**
 * The exports that use the segment, when the caller may do `wanted` with it: 404 when they may not
 * see it (a Contributor learns nothing of segments only restricted exports use), 403 when they may
 * see it but an export on a connection they may not use reads it.
 */
export async function requireSegmentAccess(context: AppContext, principal: Principal, segmentId: string, wanted: 'read' | 'write'): Promise<SegmentUse[]> {
  const uses = await segmentUses(context, segmentId);
  const access = segmentAccess(principal, uses.map((use) => use.connection));
  if (access === 'none') throw Errors.notFound('Segment', segmentId);
  if (wanted === 'write' && access !== 'write') {
    throw Errors.forbidden('replace or delete a segment that an export on a connection you may not use reads');
  }
  return uses;
}

/** `GET /api/segments/{segmentId}`: the segment, when the caller may see it. */
export async function getVisibleSegment(context: AppContext, principal: Principal, segmentId: string): Promise<Segment> {
  const segment = await requireSegment(context, segmentId);
  await requireSegmentAccess(context, principal, segmentId, 'read');
  return segment;
}

/** `GET /api/segments`: the segments the caller may see. */
export async function listVisibleSegments(context: AppContext, principal: Principal): Promise<Segment[]> {
  const usedBy = isAdmin(principal) ? new Map<string, (Connection | undefined)[]>() : await connectionsBySegment(context);
  const items: Segment[] = [];
  for await (const segment of listSegments(context)) {
    if (segmentAccess(principal, usedBy.get(segment.id) ?? []) !== 'none') items.push(segment);
  }
  return items;
}

/** Segment id -> the connections of the exports that use it, from one pass over the exports. */
async function connectionsBySegment(context: AppContext): Promise<Map<string, (Connection | undefined)[]>> {
  const connections = new ConnectionCache(context);
  const bySegment = new Map<string, (Connection | undefined)[]>();
  for await (const stored of listExports(context)) {
    const connection = await connections.get(stored.export.connectionId);
    for (const segmentId of new Set(stored.export.segmentIds)) bySegment.set(segmentId, [...(bySegment.get(segmentId) ?? []), connection]);
  }
  return bySegment;
}

class ConnectionCache {
  private readonly known = new Map<string, Promise<Connection | undefined>>();
  constructor(private readonly context: AppContext) {}

  get(connectionId: string): Promise<Connection | undefined> {
    let found = this.known.get(connectionId);
    if (!found) {
      found = getConnection(this.context, connectionId).then((stored) => stored?.connection);
      this.known.set(connectionId, found);
    }
    return found;
  }
}

/**
 * `DELETE /api/segments/{segmentId}`: only by a caller who may replace the segment, and refused
 * (409 `segment_in_use`) while an export uses it; the error names only exports the caller may see.
 */
export async function deleteUnusedSegment(context: AppContext, principal: Principal, segmentId: string): Promise<void> {
  const uses = await requireSegmentAccess(context, principal, segmentId, 'write');
  const exportIds = uses.filter((use) => canUseExport(principal, use.connection)).map((use) => use.exportId);
  if (uses.length > 0) throw Errors.segmentInUse(exportIds, { details: { exportIds } });
  await deleteSegment(context, segmentId);
}
