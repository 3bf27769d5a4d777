import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AppContext, Tuning } from '../src/app/context';
import type { FunctionDefinition } from '../src/app/definitions';
import type { LogSink } from '../src/log';
import { createAppClient, type AppClient } from './app-client';
import { startAppHost, type QueueSettings } from './app-host';
import { DEFAULT_SEGMENT_LIMITS } from '../src/domain/segment';
import { startEmulators, type Emulators, type StartEmulatorsOptions } from './emulators';
import { startAzurite, type RunningAzurite } from './local/azurite';
import type { RunningHost } from './local/host';

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
  queues?: QueueSettings;
  /** Replaces function definitions by name (fault injection around the real handlers). */
  replace?: Record<string, FunctionDefinition>;
  runTimers?: boolean;
  logSink?: LogSink;
  functionsDirectory?: string;
  /** The web app's role switch (Admin / Contributor) of the local host; on unless false. */
  roleSwitch?: boolean;
}

export interface Sandbox extends AppClient {
  context: AppContext;
  emulators: Emulators;
  host: RunningHost;
  close(): Promise<void>;
}

export { principalHeader, SANDBOX_ADMIN, type ApiOptions } from './app-client';

/**
 * Settings that let a generated segment of `count` profiles through the upload limits (the
 * defaults fit a 2 GB Flex instance; the demo and the benchmark may ask for more on a bigger machine).
 */
export function uploadLimitsFor(count: number): Record<string, string> {
  if (count <= DEFAULT_SEGMENT_LIMITS.maxRecords) return {};
  // The changed segment of a delta run carries 1% new profiles on top of `count`.
  const records = Math.ceil(count * 1.02);
  return { SEGMENT_MAX_RECORDS: String(records), SEGMENT_MAX_UPLOAD_BYTES: String(Math.max(DEFAULT_SEGMENT_LIMITS.maxBodyBytes, records * 512)) };
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  let azurite: RunningAzurite | undefined;
  const connectionString = options.connectionString ?? (azurite = await startAzurite()).connectionString;
  const emulators = await startEmulators({ asyncDelayMs: 50, ...options.emulators });
  const secretsDirectory = mkdtempSync(join(tmpdir(), 'segment-export-sandbox-'));
  const app = await startAppHost({
    connectionString,
    namespace: options.namespace ?? `s${randomBytes(4).toString('hex')}`,
    secretsFile: join(secretsDirectory, 'secrets.json'),
    env: { ...emulators.env, ...options.env },
    webhooks: options.webhooks,
    tuning: {
      rateScale: options.emulators?.unthrottled ? 1_000_000 : options.emulators?.rateScale,
      providerTiming: { brevoPollIntervalMs: 200, brevoNotifyFallbackMs: 3_000, omnisendBatchPollMs: 100 },
      ...options.tuning,
    },
    queues: options.queues,
    definitions: (definitions) =>
      definitions.filter((definition) => options.runTimers || definition.kind !== 'timer').map((definition) => options.replace?.[definition.name] ?? definition),
    logSink: options.logSink,
    functionsDirectory: options.functionsDirectory,
    roleSwitch: options.roleSwitch,
  });
  const { context, host, url } = app;
  const client = createAppClient(url, (provider) => emulators[provider].apiKeys[0]);
  return {
    ...client,
    context,
    emulators,
    host,
    async close() {
      await app.stop();
      await emulators.close();
      await azurite?.stop();
      rmSync(secretsDirectory, { recursive: true, force: true });
    },
  };
}

export { freePort } from './app-host';
