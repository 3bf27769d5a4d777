import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { segmentIdSchema } from '../src/domain/segment';
import {
  DEFAULT_DUPLICATE_SHARE,
  DEFAULT_INVALID_SHARE,
  generatedProfileCount,
  generateProfilesCsv,
  type GenerateProfilesOptions,
} from './generator';
import { ingestSegment } from '../src/segments/ingest';
import { createCliContext, formatCount, peakRssMb, printSummary, ProgressBar, readBack, runCli, throughput, UsageError } from './segment-cli';

/**
 * `npm run segment:generate -- --segment demo --count 1000000`: a synthetic segment of realistic
 * profiles, uploaded through the same ingestion as the API (or written to a CSV file with --out).
 */
const USAGE = `usage: npm run segment:generate -- --segment <id> --count <n> [options]

  --segment <id>            the segment to create or replace
  --count <n>               profiles in the base segment
  --name <name>             the segment's display name (default: kept, or the id)
  --seed <n>                same seed, same profiles (default 1)
  --invalid-share <0..1>    share of invalid emails (default ${DEFAULT_INVALID_SHARE})
  --duplicate-share <0..1>  share of duplicate emails (default ${DEFAULT_DUPLICATE_SHARE})
  --changed-share <0..1>    make the "changed" variant of the base segment: a third of this share
                            leaves, a third changes fields, as many new profiles join (default 0)
  --out <file.csv>          write the CSV to a file instead of uploading it
  --read-back               read the new version back and report the reader's throughput
  --json                    print the summary as JSON`;

runCli(async (abortSignal) => {
  const { values } = parseArgs({
    options: {
      segment: { type: 'string' },
      count: { type: 'string' },
      name: { type: 'string' },
      seed: { type: 'string' },
      'invalid-share': { type: 'string' },
      'duplicate-share': { type: 'string' },
      'changed-share': { type: 'string' },
      out: { type: 'string' },
      'read-back': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const options: GenerateProfilesOptions = {
    count: wholeNumber('--count', values.count),
    seed: values.seed === undefined ? undefined : wholeNumber('--seed', values.seed),
    invalidShare: share('--invalid-share', values['invalid-share']),
    duplicateShare: share('--duplicate-share', values['duplicate-share']),
    changedShare: share('--changed-share', values['changed-share']),
  };
  const total = generatedProfileCount(options);

  if (values.out) {
    const progress = new ProgressBar('generate', total, 'records');
    let rows = -1; // the header line is no profile
    async function* counted() {
      for await (const chunk of generateProfilesCsv(options)) {
        rows += countLines(chunk);
        progress.update(rows, rows);
        yield chunk;
      }
    }
    await pipeline(counted(), createWriteStream(values.out), { signal: abortSignal });
    progress.finish(rows, rows);
    console.log(`Wrote ${formatCount(total)} profiles to ${values.out}`);
    return;
  }

  if (!values.segment || !segmentIdSchema.safeParse(values.segment).success) {
    throw new UsageError('--segment needs an id of 1-64 letters, digits, - or _', USAGE);
  }
  const context = await createCliContext();
  const progress = new ProgressBar('generate + import', total, 'records');
  const startedAt = Date.now();
  let bodyBytes = 0;
  const segment = await ingestSegment(context, {
    segmentId: values.segment,
    name: values.name,
    format: 'csv',
    body: generateProfilesCsv(options),
    uploadedBy: 'cli',
    abortSignal,
    onProgress: (report) => {
      bodyBytes = report.bodyBytes;
      progress.update(report.records, report.records);
    },
  });
  const ingest = { ...throughput(segment.memberCount + segment.duplicateKeys.count, startedAt), bodyBytes };
  progress.finish(ingest.records, ingest.records);
  const read = values['read-back'] ? await readBack(context, segment, abortSignal) : undefined;
  printSummary({ segment, ingest, readBack: read, peakRssMb: peakRssMb() }, values.json);
});

function wholeNumber(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < 0) throw new UsageError(`${flag} needs a whole number >= 0`, USAGE);
  return value;
}

function share(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new UsageError(`${flag} needs a share between 0 and 1`, USAGE);
  return value;
}

function countLines(chunk: Buffer): number {
  let lines = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  return lines;
}
