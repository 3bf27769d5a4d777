import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createAppContext, setAppContext, type AppContext, type Tuning } from '../src/app/context';
import type { FunctionDefinition } from '../src/app/definitions';
import { loadConfig } from '../src/config';
import { DEFAULT_SEGMENT_LIMITS } from '../src/domain/segment';
import type { RunResource } from '../src/domain/run';
import { createLogger, type LogSink } from '../src/log';
import { startAzurite, type RunningAzurite } from './local/azurite';
import { parseHostJson, readHostJson } from './local/host-json';
import { startLocalHost, type RunningHost } from './local/host';
import { loadDefinitions } from './local/load-definitions';
import { LocalSecretStore } from '../src/secrets/local-store';
import { ensureStorage } from '../src/storage/clients';
import { startEmulators, type Emulators, type StartEmulatorsOptions } from './emulators';

/**
 * The whole app on one machine, for the demo, the benchmark and the end-to-end tests: Azurite (in
 * memory, or a namespace of a given one), the provider emulators, and the local host running every
 * function definition — HTTP, queues (timers only on request) — exactly as `npm start` would.
 */
export interface SandboxOptions {
  /** Use this storage account (the tests' Azurite) instead of starting Azurite. */
  connectionString?: string;
  namespace?: string;
  emulators?: StartEmulatorsOptions;
  tuning?: Tuning;
  env?: Record<string, string>;
  /** Sets PUBLIC_BASE_URL to the local host, so Brevo imports call the webhook. */
  webhooks?: boolean;
  /** host.json queue settings (the Functions host's defaults for anything left out). */
  queues?: { batchSize?: number; newBatchThreshold?: number; maxDequeueCount?: number; visibilityTimeout?: string; maxPollingInterval?: string };
  /** Replaces function definitions by name (fault injection around the real handlers). */
  replace?: Record<string, FunctionDefinition>;
  runTimers?: boolean;
  logSink?: LogSink;
  functionsDirectory?: string;
  /** The web app's role switch (Admin / Contributor) of the local host; on unless false. */
  roleSwitch?: boolean;
}

export interface Sandbox {
  context: AppContext;
  emulators: Emulators;
  host: RunningHost;
  url: string;
  api<T = unknown>(method: string, path: string, options?: ApiOptions): Promise<{ status: number; body: T }>;
  createConnection(provider: 'iterable' | 'brevo' | 'omnisend', options?: { apiKey?: string; allowContributors?: boolean; displayName?: string }): Promise<string>;
  uploadSegment(segmentId: string, name: string, body: string | AsyncIterable<Uint8Array>, contentType?: string): Promise<{ memberCount: number }>;
  createExport(body: Record<string, unknown>): Promise<string>;
  startRun(exportId: string, query?: string): Promise<string>;
  waitForRun(runId: string, options?: { timeoutInMs?: number; onProgress?: (run: RunResource) => void; intervalInMs?: number }): Promise<RunResource>;
  close(): Promise<void>;
}

export interface ApiOptions {
  /** The caller; `null` sends no principal. Default: an Admin. */
  principal?: { name: string; roles: string[]; userId?: string } | null;
  json?: unknown;
  body?: string | AsyncIterable<Uint8Array>;
  contentType?: string;
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

/**
 * Settings that let a generated segment of `count` profiles through the upload limits (the
 * defaults fit a 2 GB Flex instance; the demo and the benchmark may ask for more on a bigger machine).
 */
export function uploadLimitsFor(count: number): Record<string, string> {
  if (count <= DEFAULT_SEGMENT_LIMITS.maxRecords) return {};
  return { SEGMENT_MAX_RECORDS: String(count), SEGMENT_MAX_UPLOAD_BYTES: String(Math.max(DEFAULT_SEGMENT_LIMITS.maxBodyBytes, count * 512)) };
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  let azurite: RunningAzurite | undefined;
  const connectionString = options.connectionString ?? (azurite = await startAzurite()).connectionString;
  const emulators = await startEmulators({ asyncDelayMs: 50, ...options.emulators });
  const secretsDirectory = mkdtempSync(join(tmpdir(), 'segment-export-sandbox-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    AzureWebJobsStorage: connectionString,
    LOCAL_SECRETS_FILE: join(secretsDirectory, 'secrets.json'),
    REFRESH_SCHEDULE: '0 0 2 * * *',
    SOURCE_SCAN_SCHEDULE: '0 */15 * * * *',
    ...emulators.env,
    ...(options.webhooks ? { PUBLIC_BASE_URL: url } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const context = createAppContext({
    config,
    namespace: options.namespace ?? `s${randomBytes(4).toString('hex')}`,
    secrets: new LocalSecretStore(config.localSecretsFile),
    log: createLogger(options.logSink ?? (() => undefined), {}, 'debug'),
    tuning: {
      rateScale: options.emulators?.unthrottled ? 1_000_000 : options.emulators?.rateScale,
      providerTiming: { brevoPollIntervalMs: 200, brevoNotifyFallbackMs: 3_000, omnisendBatchPollMs: 100 },
      ...options.tuning,
    },
  });
  setAppContext(context);
  await ensureStorage(context.storage);
  const definitions = await loadDefinitions(options.functionsDirectory ?? join(__dirname, '..', 'functions'));
  const host = await startLocalHost({
    definitions: definitions
      .filter((definition) => options.runTimers || definition.kind !== 'timer')
      .map((definition) => options.replace?.[definition.name] ?? definition),
    hostSettings: parseHostJson({
      version: '2.0',
      extensions: {
        http: { routePrefix: readHostJson(projectHostJson()).routePrefix },
        queues: {
          batchSize: 8,
          newBatchThreshold: 4,
          maxDequeueCount: 5,
          visibilityTimeout: '00:00:00.2',
          maxPollingInterval: '00:00:00.1',
          ...options.queues,
        },
      },
    }),
    env,
    storage: context.storage,
    log: context.log,
    port,
    hostname: '127.0.0.1',
    roleSwitch: options.roleSwitch ?? true,
  });

  const api: Sandbox['api'] = async (method, path, apiOptions = {}) => {
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
    context,
    emulators,
    host,
    url,
    api,
    async createConnection(provider, connectionOptions = {}) {
      const created = await api<{ id: string }>('POST', 'connections', {
        json: {
          displayName: connectionOptions.displayName ?? `${provider} (emulator)`,
          provider,
          apiKey: connectionOptions.apiKey ?? emulators[provider].apiKeys[0],
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
    async close() {
      await host.stop();
      await emulators.close();
      await azurite?.stop();
      setAppContext(undefined);
      rmSync(secretsDirectory, { recursive: true, force: true });
    },
  };
}

/** The project's host.json, above this file whether it runs from source or from dist/. */
function projectHostJson(): string {
  for (let directory = __dirname; dirname(directory) !== directory; directory = dirname(directory)) {
    if (existsSync(join(directory, 'host.json'))) return join(directory, 'host.json');
  }
  throw new Error(`No host.json above ${__dirname}`);
}

/** A port nothing listens on right now, on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
