import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { RunResource } from '../src/domain/run';
import type { AppClient, Provider } from './app-client';
import { runCost } from './bench/cost';
import { checkWindows, emulatorCounts, PROVIDERS, startEnvironment, type Environment } from './bench/environment';
import type { Options, RunFigures, ThrottledFigures, UnthrottledFigures } from './bench/figures';
import { renderDocument, repriceCost, type Section } from './bench/report';
import { generateProfilesCsv } from './generator';
import { RunProgress } from './report';
import { sourcesOnly } from './bench/sources';
import { uploadLimitsFor } from './sandbox';

/**
 * `npm run bench`: the design's performance figures, each part in a process of its own (Azurite,
 * the provider emulators, and one process per app instance, as on Flex Consumption).
 *  1. Per provider, a full run against emulators enforcing the documented limits (times a scale
 *     factor): the time, the ceiling those limits allow, the efficiency, the share of 429s, and the
 *     most requests the app ever sent within one provider window; then a delta run after 1% of the
 *     segment changed. `--instances 2` runs two app instances that share the governor.
 *  2. Unthrottled emulators: profiles per second end to end, the peak RSS of the app, the CPU
 *     time of every process. From `--count` above 2 million (the 10M mode), Iterable and Brevo, a
 *     full and a delta run each, and no throttled runs.
 *  3. What a run costs in Azure: storage transactions, executions and GB-seconds per 1M profiles,
 *     counted in the app instances during the throttled runs, priced (`bench/cost.ts`).
 *  4. `--sources-only`: segment sources, a CDM export ingested through a scan (`bench/sources.ts`).
 * Prints the tables and writes the sections it measured into docs/benchmarks.md (the others stay;
 * `--sources-only` writes docs/benchmarks-sources.md).
 */
const MAPPING = { email: 'Email', firstName: 'FirstName', lastName: 'LastName', phone: 'Phone', address: 'Address', city: 'City', countryRegion: 'CountryCode', postalCode: 'PostalCode' };
const ASYNC_DELAY_MS = 200;
/** Omnisend batch statuses: ask once the emulated processing is over, so one list of finished batches answers for a whole chunk. */
const PROVIDER_TIMING = { omnisendBatchPollMs: ASYNC_DELAY_MS + 50, brevoPollIntervalMs: ASYNC_DELAY_MS + 50, brevoNotifyFallbackMs: 5_000 };
/** One app instance: up to 24 messages of a queue at once (batchSize + newBatchThreshold), idle queues polled at least every 0.5 s. */
const QUEUES = { batchSize: 16, newBatchThreshold: 8, maxPollingInterval: '00:00:00.5' };
/** The app's heap limit: live memory must stay bounded (without it V8 lets garbage pile up and RSS follows). */
const HEAP_LIMIT = '--max-old-space-size=384';
/** Above this many profiles the bench runs the 10M mode. */
const LARGE_COUNT = 2_000_000;

async function main(): Promise<void> {
  const options = readOptions();
  if (options.sourcesOnly) return sourcesOnly(options);
  if (options.reprice) return reprice(options.out);
  const scales = PROVIDERS.map((p) => `${p} x${options.scales[p]}`).join(', ');
  console.log(`segment-export benchmark: ${options.count.toLocaleString('en-US')} profiles; ${options.instances} app instance(s); rate scale ${scales}`);
  if (options.large) console.log('10M mode: unthrottled full and delta runs only');
  const sections: Section[] = [];
  if (options.throttled) {
    const throttled: ThrottledFigures[] = [];
    for (const provider of options.providers) throttled.push(await throttledRun(provider, options));
    sections.push({ kind: 'throttled', options, throttled });
  }
  if (options.unthrottled) sections.push({ kind: options.large ? 'large' : 'unthrottled', options, unthrottled: await unthrottledRuns(options) });
  const existing = readExisting(options.out);
  const document = renderDocument(existing, sections);
  console.log(`\n${document.console}`);
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, document.markdown);
  console.log(`\nWritten to ${options.out}`);
  assertWindowsKept(sections);
  if (options.cpuProfileDir) console.log(`CPU profiles of the app instances: ${options.cpuProfileDir}`);
}

/**
 * The emulators' request history is the provider's view: a window that ever saw more requests than
 * its limit fails the benchmark (exit code 1), after the figures are written.
 */
function assertWindowsKept(sections: Section[]): void {
  const over = sections.flatMap((section) =>
    section.kind === 'throttled'
      ? section.throttled.flatMap((result) => result.windows.filter((window) => window.maxSent > window.limit).map((window) => `${result.provider} ${window.bucket} ${window.maxSent}/${window.limit}`))
      : [],
  );
  if (over.length === 0) {
    if (sections.some((section) => section.kind === 'throttled')) console.log('Checked: no provider window ever saw more requests than its limit.');
    return;
  }
  console.error(`FAILED: requests over a provider window: ${over.join(', ')}`);
  process.exitCode = 1;
}

/** `--reprice`: the cost section of the document priced again with the current prices, nothing measured. */
function reprice(out: string): void {
  const existing = readExisting(out);
  const repriced = repriceCost(existing);
  if (repriced === existing) throw new Error(`${out} has no cost section to price`);
  writeFileSync(out, repriced);
  console.log(`Cost section of ${out} priced again`);
}

function readExisting(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '11' },
      'rate-scale': { type: 'string', default: '1' },
      'omnisend-rate-scale': { type: 'string', default: '10' },
      providers: { type: 'string' },
      instances: { type: 'string', default: '1' },
      'skip-unthrottled': { type: 'boolean', default: false },
      'skip-throttled': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'sources-only': { type: 'boolean', default: false },
      reprice: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const schema = z.object({
    count: z.coerce.number().int().positive(),
    seed: z.coerce.number().int().positive(),
    'rate-scale': z.coerce.number().positive(),
    'omnisend-rate-scale': z.coerce.number().positive(),
    providers: z
      .string()
      .transform((text) => text.split(',').map((p) => p.trim()))
      .pipe(z.array(z.enum(PROVIDERS)).min(1))
      .optional(),
    instances: z.coerce.number().int().min(1).max(8),
  });
  const parsed = schema.parse(values);
  const scale = parsed['rate-scale'];
  const large = parsed.count > LARGE_COUNT;
  const args = process.argv.slice(2);
  return {
    command: `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
    count: parsed.count,
    seed: parsed.seed,
    scales: { iterable: scale, brevo: scale, omnisend: parsed['omnisend-rate-scale'] },
    providers: parsed.providers ?? (large ? ['iterable', 'brevo'] : [...PROVIDERS]),
    instances: parsed.instances,
    unthrottled: !values['skip-unthrottled'],
    throttled: !values['skip-throttled'] && !large,
    large,
    cpuProfileDir: values['cpu-prof'] ? mkdtempSync(join(tmpdir(), 'segment-export-cpu-')) : undefined,
    sourcesOnly: values['sources-only'],
    reprice: values.reprice,
    out: values.out ?? join('docs', values['sources-only'] ? 'benchmarks-sources.md' : 'benchmarks.md'),
  };
}

function execArgv(options: Options): string[] {
  return [HEAP_LIMIT, ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [])];
}

async function throttledRun(provider: Provider, options: Options): Promise<ThrottledFigures> {
  const scale = options.scales[provider];
  const environment = await startEnvironment({
    instances: options.instances,
    emulatorArgs: ['--rate-scale', String(scale)],
    asyncDelayMs: ASYNC_DELAY_MS,
    execArgv: execArgv(options),
    tuning: { rateScale: scale, providerTiming: PROVIDER_TIMING },
    queues: QUEUES,
    env: uploadLimitsFor(options.count),
  });
  try {
    console.log(`\n${provider}: uploading ${options.count.toLocaleString('en-US')} profiles…`);
    await upload(environment.client, options, 0);
    const exportId = await createExport(environment, provider);
    const origin = environment.origins[provider];
    const before = await emulatorCounts(origin);
    const full = await measuredRun(environment, provider, exportId, 'full run');
    const after = await emulatorCounts(origin);
    const brevoImports = (after.requests.byRoute['POST /v3/contacts/import'] ?? 0) - (before.requests.byRoute['POST /v3/contacts/import'] ?? 0);
    await upload(environment.client, options, 0.01);
    const delta = await measuredRun(environment, provider, exportId, 'delta run');
    return {
      provider,
      scale,
      full,
      ceilingSeconds: ceiling(provider, full.upserts, scale, brevoImports),
      requests: after.requests.total - before.requests.total,
      throttled: after.requests.status429 - before.requests.status429,
      windows: await checkWindows(origin),
      delta,
      cost: runCost(full),
    };
  } finally {
    await environment.stop();
  }
}

async function unthrottledRuns(options: Options): Promise<UnthrottledFigures[]> {
  const environment = await startEnvironment({
    instances: options.instances,
    emulatorArgs: ['--unthrottled', ...(options.large ? ['--forget-attributes'] : [])],
    asyncDelayMs: ASYNC_DELAY_MS,
    execArgv: execArgv(options),
    tuning: { rateScale: 1_000_000, providerTiming: PROVIDER_TIMING },
    queues: QUEUES,
    env: uploadLimitsFor(options.count),
  });
  const results: UnthrottledFigures[] = [];
  try {
    console.log(`\nunthrottled: uploading ${options.count.toLocaleString('en-US')} profiles…`);
    await upload(environment.client, options, 0);
    const exports = new Map<Provider, string>();
    for (const provider of options.providers) {
      exports.set(provider, await createExport(environment, provider));
      results.push({ full: await measuredRun(environment, provider, exports.get(provider)!, 'unthrottled') });
    }
    if (options.large) {
      console.log(`\nunthrottled: uploading the segment with 1% changed…`);
      await upload(environment.client, options, 0.01);
      for (const [index, provider] of options.providers.entries()) {
        results[index]!.delta = await measuredRun(environment, provider, exports.get(provider)!, 'unthrottled delta');
      }
    }
  } finally {
    await environment.stop();
  }
  return results;
}

async function upload(client: AppClient, options: Options, changedShare: number): Promise<void> {
  await client.uploadSegment('bench', 'Benchmark customers', generateProfilesCsv({ count: options.count, seed: options.seed, changedShare }));
}

async function createExport(environment: Environment, provider: Provider): Promise<string> {
  const { client } = environment;
  const connectionId = await client.createConnection(provider);
  let listOptions = {};
  if (provider === 'brevo') {
    // The list must exist in the emulator process: create it through the emulated API.
    const created = await fetch(`${environment.origins.brevo}/v3/contacts/lists`, {
      method: 'POST',
      headers: { 'api-key': 'brevo-emulator-key', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Benchmark customers', folderId: 1 }),
    });
    listOptions = { options: { listId: z.object({ id: z.number() }).parse(await created.json()).id } };
  }
  return client.createExport({ name: `bench ${provider}`, connectionId, segmentIds: ['bench'], mapping: MAPPING, ...listOptions });
}

async function measuredRun(environment: Environment, provider: Provider, exportId: string, label: string): Promise<RunFigures> {
  const { result: finished, usage } = await environment.measure(() => run(environment.client, provider, exportId, label));
  return {
    provider,
    profiles: finished.totals.profiles,
    upserts: finished.totals.adds + finished.totals.updates,
    removes: finished.totals.removes,
    sent: finished.totals.sent,
    rejected: finished.totals.rejected,
    invalid: finished.totals.invalid,
    duplicates: finished.totals.duplicates,
    seconds: runSeconds(finished),
    usage,
  };
}

async function run(client: AppClient, provider: Provider, exportId: string, label: string): Promise<RunResource> {
  const progress = new RunProgress([`${provider} ${label}`]);
  const result = await client.waitForRun(await client.startRun(exportId), {
    timeoutInMs: 4 * 3600_000,
    intervalInMs: 500,
    onProgress: (current) => progress.update(`${provider} ${label}`, current),
  });
  progress.finish();
  if (result.status !== 'succeeded' && result.status !== 'partially_succeeded') {
    throw new Error(`The ${provider} ${label} ended ${result.status}: ${result.reason ?? ''}`);
  }
  return result;
}

/**
 * The least time the provider's documented limits (times the scale) allow for this many records. A
 * sliding window lets `limit` requests through at once and the next ones only when the earliest
 * leave the window, so request `k` (from 0) cannot go before `floor(k / limit)` windows have
 * passed; the slowest counter bounds the run.
 */
export function ceiling(provider: Provider, records: number, scale: number, brevoImports: number): number {
  const lastRequestAt = (requests: number, limit: number, windowSeconds: number) =>
    Math.floor(Math.max(0, requests - 1) / Math.max(1, Math.floor(limit * scale))) * windowSeconds;
  switch (provider) {
    case 'iterable':
      return lastRequestAt(Math.ceil(records / 1000), 5, 1);
    case 'omnisend': {
      const batches = Math.ceil(records / 100);
      const tags = Math.ceil(records / 250);
      return Math.max(lastRequestAt(batches + tags, 400, 60), lastRequestAt(tags, 60, 60));
    }
    case 'brevo':
      // Submitting the imports at 10 requests/s, then the emulated processing of the last one.
      return lastRequestAt(Math.max(1, brevoImports), 10, 1) + ASYNC_DELAY_MS / 1000;
  }
}

function runSeconds(run: RunResource): number {
  return (Date.parse(run.finishedAt ?? new Date().toISOString()) - Date.parse(run.createdAt)) / 1000;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
