// One measured environment of the benchmark, every part in a process of its own: Azurite, the
// provider emulators, and N app instances on that storage account and those provider accounts.
// `measure` runs a piece of work and says what it cost: wall time, each process's CPU time, the
// instances' meters (storage requests, executions, busy time, peak RSS) and the machine's load.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { createAppClient, type AppClient, type Provider } from '../app-client';
import { freePort } from '../app-host';
import { startAzurite, type RunningAzurite } from '../local/azurite';
import { startAppInstances, type AppInstances } from './instances';
import { cpuMsOf, loadAverages } from './machine';
import type { InstanceConfig, InstanceStats } from './protocol';

export const PROVIDERS = ['iterable', 'brevo', 'omnisend'] as const satisfies readonly Provider[];

export interface EnvironmentOptions {
  instances: number;
  /** Arguments of the emulators' CLI (`--rate-scale 10`, `--unthrottled`). */
  emulatorArgs: string[];
  asyncDelayMs: number;
  /** Node options of each app instance. */
  execArgv: string[];
  tuning: InstanceConfig['tuning'];
  queues: InstanceConfig['queues'];
  env?: Record<string, string>;
}

export interface Usage {
  seconds: number;
  /** CPU time in ms: each app instance, Azurite, the emulators. */
  cpuMs: { instances: number[]; azurite: number | undefined; emulators: number | undefined };
  instances: InstanceStats[];
  load: { before: string; after: string };
}

export interface Environment {
  client: AppClient;
  origins: Record<Provider, string>;
  instances: AppInstances;
  measure<T>(work: () => Promise<T>): Promise<{ result: T; usage: Usage }>;
  stop(): Promise<void>;
}

/** The key every emulator accepts by default (the emulators' CLI is started without `--key`). */
export function emulatorKey(provider: Provider): string {
  return `${provider}-emulator-key`;
}

export async function startEnvironment(options: EnvironmentOptions): Promise<Environment> {
  const secrets = mkdtempSync(join(tmpdir(), 'segment-export-bench-'));
  const emulators = await startEmulatorProcess([...options.emulatorArgs, '--async-delay-ms', String(options.asyncDelayMs)]);
  let azurite: RunningAzurite | undefined;
  let instances: AppInstances | undefined;
  try {
    azurite = await startAzurite({ execArgv: options.execArgv.filter((flag) => flag.startsWith('--cpu-prof')) });
    instances = await startAppInstances(
      options.instances,
      {
        connectionString: azurite.connectionString,
        namespace: `b${randomBytes(4).toString('hex')}`,
        secretsFile: join(secrets, 'secrets.json'),
        env: { ...emulators.env, ...options.env },
        tuning: options.tuning,
        queues: options.queues,
        webhooks: true,
        storagePorts: azurite.ports,
      },
      { execArgv: options.execArgv },
    );
  } catch (error) {
    await instances?.stop();
    await azurite?.stop();
    await emulators.stop();
    throw error;
  }
  const running = { azurite, instances };
  return {
    client: createAppClient(instances.urls[0]!, emulatorKey),
    origins: emulators.origins,
    instances,
    async measure(work) {
      await running.instances.reset();
      const pids = { instances: running.instances.pids, azurite: running.azurite.pid, emulators: emulators.pid };
      const cpuBefore = cpuOf(pids);
      const load = { before: loadAverages(), after: '' };
      const startedAt = performance.now();
      const result = await work();
      const seconds = (performance.now() - startedAt) / 1000;
      const cpuAfter = cpuOf(pids);
      load.after = loadAverages();
      const cpuMs = {
        instances: cpuAfter.instances.map((ms, i) => ms - (cpuBefore.instances[i] ?? 0)),
        azurite: difference(cpuAfter.azurite, cpuBefore.azurite),
        emulators: difference(cpuAfter.emulators, cpuBefore.emulators),
      };
      return { result, usage: { seconds, cpuMs, instances: await running.instances.stats(), load } };
    },
    async stop() {
      await running.instances.stop();
      await running.azurite.stop();
      await emulators.stop();
      rmSync(secrets, { recursive: true, force: true });
    },
  };
}

function cpuOf(pids: { instances: number[]; azurite: number | undefined; emulators: number | undefined }) {
  const of = (pid: number | undefined) => (pid === undefined ? undefined : cpuMsOf(pid));
  return { instances: pids.instances.map((pid) => of(pid) ?? 0), azurite: of(pids.azurite), emulators: of(pids.emulators) };
}

function difference(after: number | undefined, before: number | undefined): number | undefined {
  return after === undefined || before === undefined ? undefined : after - before;
}

interface EmulatorProcess {
  env: Record<string, string>;
  origins: Record<Provider, string>;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Emulators in a process of their own, so that their memory and CPU are not the app's. */
async function startEmulatorProcess(args: string[]): Promise<EmulatorProcess> {
  const ports = { iterable: await freePort(), brevo: await freePort(), omnisend: await freePort() };
  const cli = join(__dirname, '..', 'emulators', 'cli.js');
  const child = spawn(
    process.execPath,
    [cli, '--port-iterable', String(ports.iterable), '--port-brevo', String(ports.brevo), '--port-omnisend', String(ports.omnisend), ...args],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  raisePriority(child.pid);
  const origins = { iterable: `http://127.0.0.1:${ports.iterable}`, brevo: `http://127.0.0.1:${ports.brevo}`, omnisend: `http://127.0.0.1:${ports.omnisend}` };
  for (const origin of Object.values(origins)) await waitUntilUp(origin, child);
  return {
    env: { ITERABLE_BASE_URL: origins.iterable, BREVO_BASE_URL: `${origins.brevo}/v3`, OMNISEND_BASE_URL: `${origins.omnisend}/api` },
    origins,
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

/**
 * The emulators stand in for the providers' servers, which count a request when it arrives and do
 * not share our two cores: scheduled ahead of the app instances and Azurite, they read a request
 * when it is sent rather than whenever a busy machine gets round to them. Needs the right to raise
 * a priority (root, or CAP_SYS_NICE); without it the bench says so and goes on.
 */
function raisePriority(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    setPriority(pid, -10);
  } catch {
    console.log('Note: could not raise the emulators\' scheduling priority; their request times follow the machine\'s load.');
  }
}

async function waitUntilUp(origin: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error('The emulators exited before they listened');
    try {
      if ((await fetch(`${origin}/_emulator/state`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`The emulator at ${origin} did not start`);
}

const requestCountsSchema = z.object({
  requests: z.object({ total: z.number(), status429: z.number(), byRoute: z.record(z.string(), z.number()) }),
  rateBuckets: z.record(z.string(), z.object({ limits: z.array(z.object({ requests: z.number(), windowMs: z.number() })) })),
});

/** The emulator's request counters (every request since it started). */
export async function emulatorCounts(origin: string) {
  return requestCountsSchema.parse(await (await fetch(`${origin}/_emulator/state`)).json());
}

const ratesSchema = z.object({ maxRequestsInAnyWindow: z.number() });

export interface WindowCheck {
  bucket: string;
  limit: number;
  windowMs: number;
  /** The most requests the app sent within one window (those answered 429 included). */
  maxSent: number;
}

/** For every limit of every bucket the app used: the most requests it ever sent within one window. */
export async function checkWindows(origin: string): Promise<WindowCheck[]> {
  const { rateBuckets } = await emulatorCounts(origin);
  const checks: WindowCheck[] = [];
  for (const [bucket, { limits }] of Object.entries(rateBuckets)) {
    for (const limit of limits) {
      const query = new URLSearchParams({ bucket, windowMs: String(limit.windowMs) });
      const rates = ratesSchema.parse(await (await fetch(`${origin}/_emulator/rates?${query.toString()}`)).json());
      checks.push({ bucket, limit: limit.requests, windowMs: limit.windowMs, maxSent: rates.maxRequestsInAnyWindow });
    }
  }
  return checks;
}
