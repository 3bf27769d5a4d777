// A client of the app's HTTP API, as a script or a test drives it: an Admin principal by default,
// JSON in and out, and the few calls the demo, the benchmark and the end-to-end tests make.
import type { RunResource } from '../src/domain/run';

export interface ApiOptions {
  /** The caller; `null` sends no principal. Default: an Admin. */
  principal?: { name: string; roles: string[]; userId?: string } | null;
  json?: unknown;
  body?: string | AsyncIterable<Uint8Array>;
  contentType?: string;
}

export type Provider = 'iterable' | 'brevo' | 'omnisend';

export interface AppClient {
  url: string;
  api<T = unknown>(method: string, path: string, options?: ApiOptions): Promise<{ status: number; body: T }>;
  createConnection(provider: Provider, options?: { apiKey?: string; allowContributors?: boolean; displayName?: string }): Promise<string>;
  uploadSegment(segmentId: string, name: string, body: string | AsyncIterable<Uint8Array>, contentType?: string): Promise<{ memberCount: number }>;
  createExport(body: Record<string, unknown>): Promise<string>;
  startRun(exportId: string, query?: string): Promise<string>;
  waitForRun(runId: string, options?: { timeoutInMs?: number; onProgress?: (run: RunResource) => void; intervalInMs?: number }): Promise<RunResource>;
}

export const SANDBOX_ADMIN = { name: 'demo-admin@example.com', roles: ['Admin'], userId: 'oid-demo-admin' };
const TERMINAL = new Set(['succeeded', 'partially_succeeded', 'failed', 'cancelled', 'skipped']);

/** The `x-ms-client-principal` header App Service Authentication would send for this principal. */
export function principalHeader(principal: { name: string; roles: string[]; userId?: string }): string {
  const claims = [
    { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', val: principal.name },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: principal.userId ?? `oid-${principal.name}` },
    ...principal.roles.map((role) => ({ typ: 'roles', val: role })),
  ];
  return Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
      claims,
    }),
  ).toString('base64');
}

/** A client of the app at `url`; `apiKeyOf` gives the provider key a new connection uses by default. */
export function createAppClient(url: string, apiKeyOf: (provider: Provider) => string | undefined): AppClient {
  const api: AppClient['api'] = async (method, path, apiOptions = {}) => {
    const headers: Record<string, string> = {};
    const principal = apiOptions.principal === undefined ? SANDBOX_ADMIN : apiOptions.principal;
    if (principal) headers['x-ms-client-principal'] = principalHeader(principal);
    let body: string | AsyncIterable<Uint8Array> | undefined = apiOptions.body;
    if (apiOptions.json !== undefined) {
      body = JSON.stringify(apiOptions.json);
      headers['content-type'] = 'application/json';
    }
    if (apiOptions.contentType) headers['content-type'] = apiOptions.contentType;
    const init: RequestInit & { duplex?: 'half' } = { method, headers, body: body as RequestInit['body'] };
    if (body !== undefined && typeof body !== 'string') init.duplex = 'half';
    const response = await fetch(`${url}/api/${path}`, init);
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as never };
  };

  const expectStatus = <T>(result: { status: number; body: T }, status: number, what: string): T => {
    if (result.status !== status) throw new Error(`${what}: expected ${status}, got ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  };

  return {
    url,
    api,
    async createConnection(provider, connectionOptions = {}) {
      const created = await api<{ id: string }>('POST', 'connections', {
        json: {
          displayName: connectionOptions.displayName ?? `${provider} (emulator)`,
          provider,
          apiKey: connectionOptions.apiKey ?? apiKeyOf(provider),
          allowContributors: connectionOptions.allowContributors ?? false,
          acceptPrivacyTerms: true,
        },
      });
      return expectStatus(created, 201, 'create connection').id;
    },
    async uploadSegment(segmentId, name, body, contentType = 'text/csv') {
      const uploaded = await api<{ memberCount: number }>('PUT', `segments/${segmentId}?name=${encodeURIComponent(name)}`, { body, contentType });
      return expectStatus(uploaded, 200, 'upload segment');
    },
    async createExport(body) {
      return expectStatus(await api<{ id: string }>('POST', 'exports', { json: body }), 201, 'create export').id;
    },
    async startRun(exportId, query = '') {
      const started = await api<{ runId: string }>('POST', `exports/${exportId}/runs${query ? `?${query}` : ''}`);
      return expectStatus(started, 202, 'start run').runId;
    },
    async waitForRun(runId, waitOptions = {}) {
      const deadline = Date.now() + (waitOptions.timeoutInMs ?? 60_000);
      for (;;) {
        const run = expectStatus(await api<RunResource>('GET', `runs/${runId}`), 200, 'get run');
        waitOptions.onProgress?.(run);
        if (TERMINAL.has(run.status)) return run;
        if (Date.now() > deadline) throw new Error(`run ${runId} did not finish in time: ${JSON.stringify(run)}`);
        await new Promise((resolve) => setTimeout(resolve, waitOptions.intervalInMs ?? 100));
      }
    },
  };
}
