import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createAppContext, type AppContext } from '../src/app/context';
import { loadConfig } from '../src/config';
import type { SegmentUploadResult } from '../src/domain/segment';
import { AppError } from '../src/errors';
import { createLogger } from '../src/log';
import { applyLocalSettings, readLocalSettings } from './local/settings';
import { readSegmentBatches } from '../src/segments/reader';
import { ensureStorage } from '../src/storage/clients';

/**
 * What the segment CLIs share: the app's configuration (local.settings.json under the process
 * environment, as `npm start` reads it), a progress bar on stderr, the read-back measurement and
 * the summary.
 */
const STORAGE_CHECK_TIMEOUT_IN_MS = 5_000;

/** The folder holding the project's package.json, from wherever this file runs (src or dist). */
function projectRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'segment-export') return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/** An AppContext on the configured storage account; fails fast when storage does not answer. */
export async function createCliContext(): Promise<AppContext> {
  const root = projectRoot();
  if (existsSync(join(root, 'local.settings.json')) || existsSync(join(root, 'local.settings.sample.json'))) {
    applyLocalSettings(readLocalSettings(root).values);
  }
  process.env.AzureWebJobsStorage ||= 'UseDevelopmentStorage=true';
  const config = loadConfig(process.env);
  // Only warnings and errors, on stderr: stdout carries the summary.
  const log = createLogger((record) => console.error(JSON.stringify(record)), {}, 'warn');
  const context = createAppContext({ config, log });
  try {
    await context.storage.blobService.getProperties({ abortSignal: AbortSignal.timeout(STORAGE_CHECK_TIMEOUT_IN_MS) });
  } catch (cause) {
    throw new Error(
      'The storage account does not answer. Locally, start the app (npm start) so that Azurite runs, or set AzureWebJobsStorage.',
      { cause },
    );
  }
  await ensureStorage(context.storage);
  return context;
}

/** A one-line progress bar on stderr (redrawn in a terminal, a line every few seconds otherwise). */
export class ProgressBar {
  private readonly label: string;
  private readonly total: number | undefined;
  private readonly unit: string;
  private readonly startedAt = Date.now();
  private lastDrawAt = 0;
  private readonly interactive = process.stderr.isTTY === true;

  constructor(label: string, total: number | undefined, unit: string) {
    this.label = label;
    this.total = total;
    this.unit = unit;
  }

  update(done: number, records: number): void {
    const now = Date.now();
    if (now - this.lastDrawAt < (this.interactive ? 100 : 5_000)) return;
    this.lastDrawAt = now;
    this.draw(done, records);
  }

  finish(done: number, records: number): void {
    this.draw(done, records);
    if (this.interactive) process.stderr.write('\n');
  }

  private draw(done: number, records: number): void {
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? Math.round(records / seconds) : 0;
    const width = 30;
    const fraction = this.total ? Math.min(1, done / this.total) : undefined;
    const bar = fraction === undefined ? '' : `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '.')}] ${(fraction * 100).toFixed(0).padStart(3)}% `;
    const amount = this.unit === 'bytes' ? `${formatBytes(done)}${this.total ? ` of ${formatBytes(this.total)}` : ''}, ` : '';
    const line = `${this.label} ${bar}${amount}${formatCount(records)} records, ${formatCount(rate)}/s`;
    process.stderr.write(this.interactive ? `\r${line}\u001b[K` : `${line}\n`);
  }
}

export interface Throughput {
  records: number;
  seconds: number;
  recordsPerSecond: number;
}

export function throughput(records: number, startedAt: number): Throughput {
  const seconds = (Date.now() - startedAt) / 1000;
  return { records, seconds: round(seconds, 2), recordsPerSecond: Math.round(records / Math.max(seconds, 0.001)) };
}

/** Reads a version back in full, with progress, to measure the reader. */
export async function readBack(context: AppContext, segment: SegmentUploadResult, abortSignal: AbortSignal): Promise<Throughput> {
  const progress = new ProgressBar('read back', segment.memberCount, 'records');
  const startedAt = Date.now();
  let members = 0;
  for await (const batch of readSegmentBatches(context, segment.id, segment.version, { abortSignal })) {
    members += batch.length;
    progress.update(members, members);
  }
  progress.finish(members, members);
  return throughput(members, startedAt);
}

export interface Summary {
  segment: SegmentUploadResult;
  ingest: Throughput & { bodyBytes?: number };
  readBack?: Throughput;
  peakRssMb: number;
}

export function peakRssMb(): number {
  // `maxRSS` is in kilobytes.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function printSummary(summary: Summary, asJson: boolean): void {
  if (asJson) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  const { segment, ingest } = summary;
  console.log(`Segment ${segment.id} (${segment.name}): version ${segment.version}`);
  console.log(`  members ${formatCount(segment.memberCount)}, fields ${segment.fields.join(', ')}, key ${segment.keyField}`);
  if (segment.duplicateKeys.count > 0) {
    const examples = segment.duplicateKeys.examples.map((example) => `${example.key} (line ${example.line})`).join(', ');
    console.log(`  duplicate keys ${formatCount(segment.duplicateKeys.count)} (the last record wins), e.g. ${examples}`);
  }
  const bytes = ingest.bodyBytes === undefined ? '' : ` (${formatBytes(ingest.bodyBytes)})`;
  console.log(`  ingested ${formatCount(ingest.records)} records${bytes} in ${ingest.seconds} s: ${formatCount(ingest.recordsPerSecond)} records/s`);
  if (summary.readBack) {
    const read = summary.readBack;
    console.log(`  read back ${formatCount(read.records)} members in ${read.seconds} s: ${formatCount(read.recordsPerSecond)} records/s`);
  }
  console.log(`  peak RSS ${summary.peakRssMb} MB`);
}

/** Runs a CLI's main: usage errors exit 2, refused uploads and other failures exit 1, Ctrl-C 130. */
export function runCli(main: (abortSignal: AbortSignal) => Promise<void>): void {
  const controller = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\ninterrupted: removing what was uploaded so far\n');
    controller.abort();
  });
  main(controller.signal).then(
    () => process.exit(0),
    (error: unknown) => {
      if (controller.signal.aborted) process.exit(130);
      if (error instanceof UsageError) {
        console.error(`error: ${error.message}\n\n${error.usage}`);
        process.exit(2);
      }
      if (error instanceof AppError) {
        console.error(`error: ${error.code}: ${error.message}`);
        if (error.details !== undefined) console.error(`details: ${JSON.stringify(error.details)}`);
      } else {
        console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      }
      process.exit(1);
    },
  );
}

export class UsageError extends Error {
  readonly usage: string;

  constructor(message: string, usage: string) {
    super(message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function round(value: number, digits: number): number {
  return Math.round(value * 10 ** digits) / 10 ** digits;
}
