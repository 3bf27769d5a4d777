// `npm run bench -- --sources-only`: segment sources, a CDM export of `count` records (several
// partitions, no header row) in Azurite, ingested through a scan: records per second and the app's
// peak RSS (the app runs in this process, through the sandbox). Written to docs/benchmarks-sources.md.
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { SourceResource } from '../../src/domain/source';
import { writeCdmFolder } from '../cdm-folder';
import { generatedProfileCount, generateProfiles, PROFILE_FIELDS } from '../generator';
import { markdownTable, table } from '../report';
import { startSandbox } from '../sandbox';

export interface SourcesOptions {
  count: number;
  seed: number;
  out: string;
}

interface SourceResult {
  records: number;
  partitions: number;
  bytes: number;
  ingestSeconds: number;
  scanSeconds: number;
  peakRssMb: number;
}

const SOURCE_PARTITIONS = 8;

/** `--sources-only`: a CDM export of `count` records landed in Azurite, ingested through a scan. */
export async function sourcesOnly(options: SourcesOptions): Promise<void> {
  console.log(`segment-export benchmark, segment sources: a CDM export of ${options.count.toLocaleString('en-US')} records in ${SOURCE_PARTITIONS} partitions`);
  const result = await sourceIngestion(options);
  const header = ['records', 'partitions', 'MB', 'ingest s', 'records/s', 'scan to ingested s', 'peak RSS MB'];
  const rows = [[result.records, result.partitions, Math.round(result.bytes / 1024 / 1024), Number(result.ingestSeconds.toFixed(1)), Math.round(result.records / result.ingestSeconds), Number(result.scanSeconds.toFixed(1)), result.peakRssMb]];
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node.js ${process.version}`;
  const markdown = [
    '# Benchmarks: segment sources',
    '',
    `Measured by \`npm run bench -- --sources-only --count ${options.count}\` on ${new Date().toISOString()} at commit ${gitCommit()}; machine: ${machine}.`,
    '',
    'A CDM export as Customer Insights writes it (model.json, partitions without a header row, RFC 4180 quoting) in Azurite (its own process);',
    'a scan request, the completeness check (two reads 1 s apart, the benchmark\'s setting), then the streaming ingestion of every partition',
    'in order as one segment version. "ingest s" is the ingestion alone (as the app logs it); the peak RSS is the app process during the scan,',
    'with a 384 MB heap limit.',
    '',
    markdownTable(header, rows),
    '',
  ].join('\n');
  console.log(`\n${table(header, rows)}`);
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, markdown);
  console.log(`\nWritten to ${options.out}`);
}

async function sourceIngestion(options: SourcesOptions): Promise<SourceResult> {
  const ingestions: number[] = [];
  const sandbox = await startSandbox({
    tuning: { sources: { stabilityDelayMs: 1_000 } },
    logSink: (record) => {
      if (record.message === 'segment uploaded' && typeof record.durationInMs === 'number') ingestions.push(record.durationInMs);
    },
  });
  try {
    const container = sandbox.context.storage.blobService.getContainerClient('customer-insights');
    const generated = { count: options.count, seed: options.seed };
    const records = generatedProfileCount(generated);
    const rows = (function* () {
      for (const profile of generateProfiles(generated)) yield PROFILE_FIELDS.map((field) => profile[field]);
    })();
    console.log('Writing the export to Azurite…');
    const written = await writeCdmFolder(container, {
      folder: 'CustomerInsights_bench/Exports',
      entities: [{ name: 'BenchCustomers', attributes: PROFILE_FIELDS, rows, partitions: SOURCE_PARTITIONS, rowsPerPartition: Math.ceil(records / SOURCE_PARTITIONS) }],
    });
    let bytes = 0;
    for (const name of written.partitions.BenchCustomers!) bytes += (await container.getBlobClient(name).getProperties()).contentLength ?? 0;
    const created = await sandbox.api<SourceResource>('POST', 'sources', {
      json: { displayName: 'bench', kind: 'cdm-folder', location: { container: 'customer-insights', prefix: 'CustomerInsights_bench/Exports' }, runExports: false },
    });
    const sourceId = created.body.id;
    console.log('Scanning…');
    const startedAt = Date.now();
    const { peakRssMb: peak } = await peakRssDuring(async () => {
      await sandbox.api('POST', `sources/${sourceId}/scan`);
      for (;;) {
        const source = await sandbox.api<SourceResource>('GET', `sources/${sourceId}`);
        const entity = source.body.status.entities[0];
        if (entity?.lastIngested) return;
        if (entity?.lastError) throw new Error(`The ingestion failed: ${entity.lastError.message}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    });
    const scanSeconds = (Date.now() - startedAt) / 1000;
    return { records, partitions: SOURCE_PARTITIONS, bytes, ingestSeconds: (ingestions.at(-1) ?? scanSeconds * 1000) / 1000, scanSeconds, peakRssMb: peak };
  } finally {
    await sandbox.close();
  }
}

async function peakRssDuring<T>(work: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakRssMb: Math.round(peak / 1024 / 1024) };
  } finally {
    clearInterval(timer);
  }
}

function gitCommit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}
