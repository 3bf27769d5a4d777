// Request parsing for the segment routes, and the decisions that involve exports; the handlers
// are in `functions/segments-*.ts`.
import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import {
  DEFAULT_SEGMENT_LIMITS,
  SEGMENT_CONTENT_TYPES,
  segmentFieldNameSchema,
  segmentIdSchema,
  segmentNameSchema,
  type SegmentFormat,
} from '../domain/segment';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { Errors } from '../errors';
import { exportsUsingSegment } from '../exports/repository';
import { deleteSegment } from '../segments/repository';
import { parseWith } from './validation';

export function readSegmentId(request: HttpRequest): string {
  return parseWith(segmentIdSchema, request.params.segmentId, 'segment id');
}

const uploadQuerySchema = z.object({
  name: segmentNameSchema.optional(),
  keyField: segmentFieldNameSchema.optional(),
});

export interface SegmentUploadRequest {
  segmentId: string;
  name: string | undefined;
  keyField: string | undefined;
  format: SegmentFormat;
}

/**
 * What a `PUT /api/segments/{segmentId}` asks for: the format from `Content-Type` (`text/csv` or
 * `application/x-ndjson`, UTF-8), `name` and `keyField` from the query. The body is read later, as
 * a stream; a declared length over the limit is refused before reading.
 */
export function parseSegmentUpload(request: HttpRequest): SegmentUploadRequest {
  const segmentId = readSegmentId(request);
  const query = parseWith(uploadQuerySchema, Object.fromEntries(request.query.entries()), 'query string');
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
  return { segmentId, name: query.name, keyField: query.keyField, format };
}

/** `DELETE /api/segments/{segmentId}`: refused (409 `segment_in_use`) while an export uses the segment. */
export async function deleteUnusedSegment(context: AppContext, segmentId: string, options: OperationOptions = {}): Promise<void> {
  const exportIds = (await exportsUsingSegment(context, segmentId, options)).map((stored) => stored.export.id);
  if (exportIds.length > 0) throw Errors.segmentInUse(exportIds, { details: { exportIds } });
  await deleteSegment(context, segmentId, options);
}
