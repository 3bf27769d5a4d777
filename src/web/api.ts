import type { z } from 'zod';
import type {
  createConnectionBodySchema,
  PublicConnection,
  updateConnectionBodySchema,
} from '../domain/connection';
import type { createExportBodySchema, ExportResource, updateExportBodySchema } from '../domain/export';
import type { RejectRow, RunMode, RunResource, RunStatus } from '../domain/run';
import type { Segment, SegmentUploadResult } from '../domain/segment';
import type { Me } from '../domain/session';
import type { ErrorBody } from '../domain/envelope';

// The page's one way to the API: same origin, JSON, the API's error body turned into ApiError.
// Every type here is the API's own, from src/domain; nothing is copied by hand.

export type CreateConnectionRequest = z.input<typeof createConnectionBodySchema>;
export type UpdateConnectionRequest = z.input<typeof updateConnectionBodySchema>;
export type CreateExportRequest = z.input<typeof createExportBodySchema>;
export type UpdateExportRequest = z.input<typeof updateExportBodySchema>;

export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

export interface StartedRun {
  runId: string;
  status: RunStatus;
  statusUrl: string;
}

/** An answer of the API other than 2xx, with the error's stable code and details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let onUnauthenticated: (() => void) | undefined;

/** What to do when the API answers 401 (in Azure: sign in again). */
export function setUnauthenticatedHandler(handler: (() => void) | undefined): void {
  onUnauthenticated = handler;
}

export function toApiError(status: number, text: string): ApiError {
  let body: Partial<ErrorBody> | undefined;
  try {
    body = JSON.parse(text) as Partial<ErrorBody>;
  } catch {
    body = undefined;
  }
  const error = body?.error;
  if (error && typeof error.code === 'string' && typeof error.message === 'string') {
    return new ApiError(status, error.code, error.message, error.details);
  }
  return new ApiError(status, `http_${status}`, status === 0 ? 'The app could not be reached' : `The app answered ${status}`);
}

export interface RequestOptions {
  json?: unknown;
  query?: Record<string, string | undefined>;
  signal?: AbortSignal;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) query.set(name, value);
  const url = `/api/${path}${query.size > 0 ? `?${query.toString()}` : ''}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
      signal: options.signal,
      credentials: 'same-origin',
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    throw new ApiError(0, 'network_error', 'The app could not be reached: check your connection and try again');
  }
  const text = await response.text();
  if (!response.ok) {
    if (response.status === 401) onUnauthenticated?.();
    throw toApiError(response.status, text);
  }
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

const id = encodeURIComponent;

export const api = {
  me: (signal?: AbortSignal) => request<Me>('GET', 'me', { signal }),

  listConnections: (signal?: AbortSignal) => request<Page<PublicConnection>>('GET', 'connections', { signal }),
  createConnection: (body: CreateConnectionRequest) => request<PublicConnection>('POST', 'connections', { json: body }),
  updateConnection: (connectionId: string, body: UpdateConnectionRequest) =>
    request<PublicConnection>('PATCH', `connections/${id(connectionId)}`, { json: body }),
  deleteConnection: (connectionId: string, force: boolean) =>
    request<void>('DELETE', `connections/${id(connectionId)}`, { query: { force: force ? 'true' : undefined } }),

  listSegments: (signal?: AbortSignal) => request<Page<Segment>>('GET', 'segments', { signal }),
  deleteSegment: (segmentId: string) => request<void>('DELETE', `segments/${id(segmentId)}`),

  listExports: (signal?: AbortSignal) => request<Page<ExportResource>>('GET', 'exports', { signal }),
  getExport: (exportId: string, signal?: AbortSignal) => request<ExportResource>('GET', `exports/${id(exportId)}`, { signal }),
  createExport: (body: CreateExportRequest) => request<ExportResource>('POST', 'exports', { json: body }),
  updateExport: (exportId: string, body: UpdateExportRequest) => request<ExportResource>('PATCH', `exports/${id(exportId)}`, { json: body }),

  startRun: (exportId: string, options: { mode: RunMode; dryRun: boolean; confirmRemovals?: boolean }) =>
    request<StartedRun>('POST', `exports/${id(exportId)}/runs`, {
      query: {
        mode: options.mode === 'full' ? 'full' : undefined,
        dryRun: options.dryRun ? 'true' : undefined,
        confirmRemovals: options.confirmRemovals ? 'true' : undefined,
      },
    }),
  listRuns: (exportId: string, continuationToken?: string, signal?: AbortSignal) =>
    request<Page<RunResource>>('GET', `exports/${id(exportId)}/runs`, { query: { continuationToken }, signal }),
  getRun: (runId: string, signal?: AbortSignal) => request<RunResource>('GET', `runs/${id(runId)}`, { signal }),
  cancelRun: (runId: string) => request<RunResource>('POST', `runs/${id(runId)}/cancel`),
  listRejects: (runId: string, continuationToken?: string, signal?: AbortSignal) =>
    request<Page<RejectRow>>('GET', `runs/${id(runId)}/rejects`, { query: { continuationToken }, signal }),
};

export interface UploadOptions {
  segmentId: string;
  name: string;
  keyField?: string;
  file: Blob;
  contentType: 'text/csv' | 'application/x-ndjson';
  /** Upload even though an export maps a field the file lacks (its runs then fail until fixed). */
  force?: boolean;
  onProgress: (sentBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

/**
 * `PUT /api/segments/{segmentId}` with XMLHttpRequest, the one browser API that reports how many
 * bytes of a request body have gone (fetch does not).
 */
export function uploadSegment(options: UploadOptions): Promise<SegmentUploadResult> {
  return new Promise((resolve, reject) => {
    const query = new URLSearchParams({ name: options.name });
    if (options.keyField) query.set('keyField', options.keyField);
    if (options.force) query.set('force', 'true');
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/segments/${id(options.segmentId)}?${query.toString()}`);
    xhr.setRequestHeader('content-type', `${options.contentType}; charset=utf-8`);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      options.onProgress(event.loaded, event.lengthComputable ? event.total : options.file.size);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        options.onProgress(options.file.size, options.file.size);
        resolve(JSON.parse(xhr.responseText) as SegmentUploadResult);
        return;
      }
      if (xhr.status === 401) onUnauthenticated?.();
      reject(toApiError(xhr.status, xhr.responseText));
    });
    xhr.addEventListener('error', () => reject(toApiError(0, '')));
    xhr.addEventListener('abort', () => reject(new DOMException('The upload was cancelled', 'AbortError')));
    options.signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(options.file);
  });
}
