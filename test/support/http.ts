import { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import { principalHeader } from '../../dev/sandbox';
import type { HttpDefinition } from '../../src/app/definitions';

export interface Principal {
  name: string;
  roles: string[];
  userId?: string;
}

export { principalHeader };

export const ADMIN: Principal = { name: 'ada@example.com', roles: ['Admin'], userId: 'oid-ada' };
export const CONTRIBUTOR: Principal = { name: 'carl@example.com', roles: ['Contributor'], userId: 'oid-carl' };

export interface InvokeOptions {
  method?: string;
  path?: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  principal?: Principal;
  json?: unknown;
  body?: string | Uint8Array;
}

export interface InvokeResult {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

/** Calls an HTTP definition's handler the way the host would, and reads the response. */
export async function invokeHttp(definition: HttpDefinition, options: InvokeOptions = {}): Promise<InvokeResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.principal) headers['x-ms-client-principal'] = principalHeader(options.principal);
  let body: { string?: string; bytes?: Uint8Array } | undefined;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = { string: JSON.stringify(options.json) };
  } else if (typeof options.body === 'string') body = { string: options.body };
  else if (options.body) body = { bytes: options.body };
  const query = new URLSearchParams(options.query ?? {}).toString();
  const request = new HttpRequest({
    method: options.method ?? definition.options.methods[0] ?? 'GET',
    url: `http://localhost:7071/${options.path === undefined ? definition.options.route : `api/${options.path}`}${query ? `?${query}` : ''}`,
    headers,
    params: options.params ?? {},
    query: options.query ?? {},
    body,
  });
  const result = await definition.options.handler(request, new InvocationContext({ functionName: definition.name }));
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}
