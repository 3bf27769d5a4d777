import { segmentsPut } from '../../../functions/segments-put';
import type { AppContext } from '../../../src/app/context';
import type { SegmentMember } from '../../../src/domain/segment';
import { readSegment } from '../../../src/segments/reader';
import { ADMIN, invokeHttp, type InvokeResult, type Principal } from '../../support/http';

export const CSV = 'text/csv';
export const NDJSON = 'application/x-ndjson';

export interface UploadOptions {
  contentType?: string;
  name?: string;
  keyField?: string;
  headers?: Record<string, string>;
  /** ADMIN unless given; null sends no principal. */
  principal?: Principal | null;
}

/** `PUT /api/segments/{segmentId}` with a body. */
export function upload(segmentId: string, body: string | Uint8Array, options: UploadOptions = {}): Promise<InvokeResult> {
  const query: Record<string, string> = {};
  if (options.name !== undefined) query.name = options.name;
  if (options.keyField !== undefined) query.keyField = options.keyField;
  return invokeHttp(segmentsPut, {
    method: 'PUT',
    path: `segments/${segmentId}`,
    params: { segmentId },
    query,
    headers: { 'content-type': options.contentType ?? CSV, ...options.headers },
    principal: options.principal === null ? undefined : (options.principal ?? ADMIN),
    body,
  });
}

export async function readAll(context: AppContext, segmentId: string, version: string): Promise<SegmentMember[]> {
  const members: SegmentMember[] = [];
  for await (const member of readSegment(context, segmentId, version)) members.push(member);
  return members;
}

/** Names of the blobs stored for a segment. */
export async function blobNames(context: AppContext, segmentId: string): Promise<string[]> {
  const container = context.storage.container(context.storage.names.containers.segments);
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: `${segmentId}/` })) names.push(blob.name);
  return names.sort();
}

/** The version folders that hold blobs. */
export async function storedVersions(context: AppContext, segmentId: string): Promise<string[]> {
  return [...new Set((await blobNames(context, segmentId)).map((name) => name.split('/')[1]!))].sort();
}

/** A body that yields `first`, then waits for `release()` before yielding `rest`. */
export function gatedBody(first: string, rest: string): { body: AsyncIterable<Uint8Array>; release: () => void; reachedGate: Promise<void> } {
  let release!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const reachedGate = new Promise<void>((resolve) => (reached = resolve));
  async function* body(): AsyncGenerator<Uint8Array> {
    yield Buffer.from(first);
    reached();
    await gate;
    yield Buffer.from(rest);
  }
  return { body: body(), release, reachedGate };
}

export function csvOf(header: string[], rows: string[][]): string {
  return [header, ...rows].map((row) => row.join(',')).join('\n') + '\n';
}
