// Reading and validating what a request carries: a JSON body, route parameters, the query string.
// Every failure is a 4xx from the catalog, and nothing has been changed when it is thrown.
import type { HttpRequest } from '@azure/functions';
import type { z } from 'zod';
import { Errors, validationError } from '../errors';

export const MAX_JSON_BODY_BYTES = 256 * 1024;

/** Validates `value` with `schema`: 400 `validation_failed` naming `what` and every problem. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(what, parsed.error);
  return parsed.data;
}

/**
 * Reads and validates a JSON body of bounded size. The body is read as a stream and abandoned as
 * soon as it passes the limit, so a body without `Content-Length` costs at most the limit plus one
 * chunk; a declared length over the limit is refused before reading anything.
 */
export async function readJsonBody<T extends z.ZodType>(request: HttpRequest, schema: T): Promise<z.infer<T>> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(contentType)) {
    throw Errors.unsupportedMediaType(contentType || '(none)', 'application/json');
  }
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_JSON_BODY_BYTES) throw tooLarge();
  const text = await readBoundedText(request.body, MAX_JSON_BODY_BYTES);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw Errors.invalidJson({ cause });
  }
  return parseWith(schema, value, 'request body');
}

/** Validates route parameters and the query string together. */
export function parseQuery<T extends z.ZodType>(request: HttpRequest, schema: T): z.infer<T> {
  return parseWith(schema, Object.fromEntries(request.query.entries()), 'query string');
}

/** The body as UTF-8 text; 413 once more than `maxBytes` arrived (the rest is never read). */
async function readBoundedText(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(): Error {
  return Errors.payloadTooLarge(MAX_JSON_BODY_BYTES);
}
