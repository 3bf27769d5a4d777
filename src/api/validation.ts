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
 * Reads and validates a JSON body; one over `MAX_JSON_BODY_BYTES` is a 413. Only a declared
 * `Content-Length` over the limit is refused before reading: otherwise the whole body is read into
 * memory first and measured afterwards, so the limit bounds what is parsed, not what is buffered
 * (issue 12 makes the read stop at the limit).
 */
export async function readJsonBody<T extends z.ZodType>(request: HttpRequest, schema: T): Promise<z.infer<T>> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(contentType)) {
    throw Errors.unsupportedMediaType(contentType || '(none)', 'application/json');
  }
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_JSON_BODY_BYTES) throw Errors.payloadTooLarge(MAX_JSON_BODY_BYTES);
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_JSON_BODY_BYTES) throw Errors.payloadTooLarge(MAX_JSON_BODY_BYTES);
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
