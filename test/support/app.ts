import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Tuning } from '../../src/app/context';
import type { FunctionDefinition } from '../../src/app/definitions';
import type { RunResource } from '../../src/domain/run';
import { parseHostJson } from '../../src/local/host-json';
import { startLocalHost, type RunningHost } from '../../src/local/host';
import { loadDefinitions } from '../../src/local/load-definitions';
import { startEmulators, type Emulators } from '../emulators';
import type { StartEmulatorsOptions } from '../emulators/index';
import { createTestContext, type TestContext } from './context';
import { ADMIN, principalHeader, type Principal } from './http';

/**
 * The whole app for end-to-end tests: Azurite (a fresh namespace), the provider emulators, and the
 * local host running every function definition of `functions/` — HTTP, timers and queues — with
 * quick polling so that runs finish in seconds.
 */
export interface TestApp {
  context: TestContext;
  emulators: Emulators;
  host: RunningHost;
  url: string;
  api<T = unknown>(method: string, path: string, options?: ApiOptions): Promise<{ status: number; body: T }>;
  createConnection(provider: 'iterable' | 'brevo' | 'omnisend', options?: { apiKey?: string; allowContributors?: boolean }): Promise<string>;
  uploadSegment(segmentId: string, name: string, csv: string): Promise<void>;
  createExport(body: Record<string, unknown>): Promise<string>;
  startRun(exportId: string, query?: string): Promise<string>;
  waitForRun(runId: string, timeoutInMs?: number): Promise<RunResource>;
  close(): Promise<void>;
}

export interface ApiOptions {
  principal?: Principal | null;
  json?: unknown;
  body?: string;
  contentType?: string;
}

export interface StartTestAppOptions {
  emulators?: StartEmulatorsOptions;
  tuning?: Tuning;
  env?: Record<string, string>;
  /** Sets PUBLIC_BASE_URL to the local host, so Brevo imports call the webhook. */
  webhooks?: boolean;
  maxDequeueCount?: number;
  /** Replaces function definitions by name (fault injection around the real handlers). */
  replace?: Record<string, FunctionDefinition>;
}

const TERMINAL = new Set(['succeeded', 'partially_succeeded', 'failed', 'cancelled', 'skipped']);
const functionsDirectory = join(__dirname, '..', '..', 'functions');

export async function startTestApp(options: StartTestAppOptions = {}): Promise<TestApp> {
  const emulators = await startEmulators({ asyncDelayMs: 50, ...options.emulators });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const context = await createTestContext({
    env: { ...emulators.env, ...(options.webhooks ? { PUBLIC_BASE_URL: url } : {}), REFRESH_SCHEDULE: '0 0 2 * * *', ...options.env },
    tuning: {
      rateScale: options.emulators?.rateScale,
      providerTiming: { brevoPollIntervalMs: 200, brevoNotifyFallbackMs: 3_000, omnisendBatchPollMs: 100 },
      ...options.tuning,
    },
  });
  const definitions = await loadDefinitions(functionsDirectory);
  const host = await startLocalHost({
    definitions: definitions
      .filter((definition) => definition.kind !== 'timer')
      .map((definition) => options.replace?.[definition.name] ?? definition),
    hostSettings: parseHostJson({
      version: '2.0',
      extensions: {
        queues: {
          batchSize: 8,
          newBatchThreshold: 4,
          maxDequeueCount: options.maxDequeueCount ?? 5,
          visibilityTimeout: '00:00:00.2',
          maxPollingInterval: '00:00:00.1',
        },
      },
    }),
    env: context.env,
    storage: context.storage,
    log: context.log,
    port,
    hostname: '127.0.0.1',
  });

  const api: TestApp['api'] = async (method, path, apiOptions = {}) => {
    const headers: Record<string, string> = {};
    const principal = apiOptions.principal === undefined ? ADMIN : apiOptions.principal;
    if (principal) headers['x-ms-client-principal'] = principalHeader(principal);
    let body: string | undefined = apiOptions.body;
    if (apiOptions.json !== undefined) {
      body = JSON.stringify(apiOptions.json);
      headers['content-type'] = 'application/json';
    }
    if (apiOptions.contentType) headers['content-type'] = apiOptions.contentType;
    const response = await fetch(`${url}/api/${path}`, { method, headers, body });
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
          displayName: `${provider} test`,
          provider,
          apiKey: connectionOptions.apiKey ?? emulators[provider].apiKeys[0],
          allowContributors: connectionOptions.allowContributors ?? false,
          acceptPrivacyTerms: true,
        },
      });
      return expectStatus(created, 201, 'create connection').id;
    },
    async uploadSegment(segmentId, name, csv) {
      const uploaded = await api('PUT', `segments/${segmentId}?name=${encodeURIComponent(name)}`, { body: csv, contentType: 'text/csv' });
      expectStatus(uploaded, 200, 'upload segment');
    },
    async createExport(body) {
      return expectStatus(await api<{ id: string }>('POST', 'exports', { json: body }), 201, 'create export').id;
    },
    async startRun(exportId, query = '') {
      const started = await api<{ runId: string }>('POST', `exports/${exportId}/runs${query ? `?${query}` : ''}`);
      return expectStatus(started, 202, 'start run').runId;
    },
    async waitForRun(runId, timeoutInMs = 60_000) {
      const deadline = Date.now() + timeoutInMs;
      for (;;) {
        const run = expectStatus(await api<RunResource>('GET', `runs/${runId}`), 200, 'get run');
        if (TERMINAL.has(run.status)) return run;
        if (Date.now() > deadline) throw new Error(`run ${runId} did not finish in time: ${JSON.stringify(run)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async close() {
      await host.stop();
      await emulators.close();
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A CSV segment: `CustomerId,Email,FirstName,LastName,City`. */
export function segmentCsv(members: readonly { id: string; email: string; firstName?: string; lastName?: string; city?: string }[]): string {
  const lines = ['CustomerId,Email,FirstName,LastName,City'];
  for (const member of members) {
    lines.push([member.id, member.email, member.firstName ?? '', member.lastName ?? '', member.city ?? ''].join(','));
  }
  return `${lines.join('\n')}\n`;
}
