/** Plain-fetch calls for the emulators' own tests (the provider clients are tested elsewhere). */
export interface CallOptions {
  headers?: Record<string, string>;
  json?: unknown;
  /** A raw body, sent as is (with the content-type given in `headers`). */
  body?: string;
  signal?: AbortSignal;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is empty or not JSON. */
  body: unknown;
}

export async function call(url: string, method: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, { method, headers, body, signal: options.signal });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

/** A field of a JSON answer, for tests that need a value (ids) rather than a shape. */
export function field<T>(result: CallResult, name: string): T {
  const body = result.body as Record<string, unknown> | undefined;
  if (!body || !(name in body)) throw new Error(`Answer ${result.status} has no field ${name}: ${result.text.slice(0, 200)}`);
  return body[name] as T;
}
