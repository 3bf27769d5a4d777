// Event Grid's `Microsoft.Storage.BlobCreated` events, as a storage-queue subscription delivers
// them (one event per message, its JSON base64-encoded, which the host decodes), and which sources
// a created blob concerns: a CDM source reacts to its descriptions (model.json, manifests), a
// csv-folder source to the files of its sub-folders. Anything else is not an error: it is ignored.
import { posix } from 'node:path';
import { z } from 'zod';
import type { Source } from '../domain/source';

export const BLOB_CREATED = 'Microsoft.Storage.BlobCreated';

/** The Event Grid schema (`eventType`); the CloudEvents schema (`type`) is read too. */
const blobEventSchema = z
  .looseObject({
    eventType: z.string().optional(),
    type: z.string().optional(),
    subject: z.string().optional(),
    data: z.looseObject({ url: z.string(), eTag: z.string().optional(), contentLength: z.number().optional() }),
  })
  .refine((event) => (event.eventType ?? event.type) !== undefined, 'an event has an eventType');

export type BlobEvent = z.infer<typeof blobEventSchema>;

export function isEventGridMessage(payload: unknown): boolean {
  const first = Array.isArray(payload) ? (payload as unknown[])[0] : payload;
  return typeof first === 'object' && first !== null && ('eventType' in first || ('type' in first && 'specversion' in first));
}

/** The URLs of the blobs created, from one message (an event, or an array of them). */
export function createdBlobUrls(payload: unknown): { urls: string[]; ignored: number } {
  const events = Array.isArray(payload) ? (payload as unknown[]) : [payload];
  const urls: string[] = [];
  let ignored = 0;
  for (const raw of events) {
    const parsed = blobEventSchema.safeParse(raw);
    if (parsed.success && (parsed.data.eventType ?? parsed.data.type) === BLOB_CREATED) urls.push(parsed.data.data.url);
    else ignored++;
  }
  return { urls, ignored };
}

/**
 * Whether the blob at `blobUrl` is one the source reads a new export from; `containerUrl` is the
 * URL of the source's container as its clients see it (Azurite's is path-style).
 */
export function concernsSource(source: Source, containerUrl: string, blobUrl: string): boolean {
  const blobName = blobNameIn(containerUrl, blobUrl);
  if (blobName === undefined || !blobName.startsWith(source.location.prefix)) return false;
  if (source.kind === 'cdm-folder') {
    const base = posix.basename(blobName);
    return base === 'model.json' || base.endsWith('.manifest.cdm.json');
  }
  const relative = blobName.slice(source.location.prefix.length);
  return relative.includes('/') && /\.(csv|ndjson|jsonl)$/i.test(relative);
}

function blobNameIn(containerUrl: string, blobUrl: string): string | undefined {
  try {
    const blob = new URL(blobUrl);
    const container = new URL(containerUrl);
    const host = (url: URL) => url.host.toLowerCase().replace(/\.dfs\.core\./, '.blob.core.');
    const path = container.pathname.replace(/\/+$/, '');
    if (host(blob) !== host(container) || !blob.pathname.startsWith(`${path}/`)) return undefined;
    return decodeURIComponent(blob.pathname.slice(path.length + 1));
  } catch {
    return undefined;
  }
}
