import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { segmentIdSchema, type SegmentFormat } from '../src/domain/segment';
import { ingestSegment } from '../src/segments/ingest';
import { createCliContext, peakRssMb, printSummary, ProgressBar, readBack, runCli, throughput, UsageError } from './segment-cli';

/**
 * `npm run segment:import -- --segment vip --name "VIP customers" --file vip.csv`: uploads a CSV or
 * NDJSON file as the segment's new version, through the same ingestion as the API.
 */
const USAGE = `usage: npm run segment:import -- --segment <id> --file <path> [options]

  --segment <id>       the segment to create or replace
  --file <path>        a CSV (header row; comma or semicolon) or NDJSON file, UTF-8
  --name <name>        the segment's display name (default: kept, or the id)
  --key-field <field>  the field holding the profile key (default: CustomerId or id)
  --format csv|ndjson  default: from the file extension (.ndjson, .jsonl: ndjson; else csv)
  --read-back          read the new version back and report the reader's throughput
  --json               print the summary as JSON`;

runCli(async (abortSignal) => {
  const { values } = parseArgs({
    options: {
      segment: { type: 'string' },
      file: { type: 'string' },
      name: { type: 'string' },
      'key-field': { type: 'string' },
      format: { type: 'string' },
      'read-back': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.segment || !segmentIdSchema.safeParse(values.segment).success) {
    throw new UsageError('--segment needs an id of 1-64 letters, digits, - or _', USAGE);
  }
  if (!values.file) throw new UsageError('--file is required', USAGE);
  const format = formatOf(values.format, values.file);
  const fileBytes = statSync(values.file).size;

  const context = await createCliContext();
  const progress = new ProgressBar('import', fileBytes, 'bytes');
  const startedAt = Date.now();
  let bodyBytes = 0;
  const segment = await ingestSegment(context, {
    segmentId: values.segment,
    name: values.name,
    keyField: values['key-field'],
    format,
    body: createReadStream(values.file, { highWaterMark: 256 * 1024 }),
    uploadedBy: 'cli',
    abortSignal,
    onProgress: (report) => {
      bodyBytes = report.bodyBytes;
      progress.update(report.bodyBytes, report.records);
    },
  });
  const ingest = { ...throughput(segment.memberCount + segment.duplicateKeys.count, startedAt), bodyBytes };
  progress.finish(bodyBytes, ingest.records);
  const read = values['read-back'] ? await readBack(context, segment, abortSignal) : undefined;
  printSummary({ segment, ingest, readBack: read, peakRssMb: peakRssMb() }, values.json);
});

function formatOf(option: string | undefined, file: string): SegmentFormat {
  if (option === 'csv' || option === 'ndjson') return option;
  if (option !== undefined) throw new UsageError(`--format is csv or ndjson, not '${option}'`, USAGE);
  return ['.ndjson', '.jsonl'].includes(extname(file).toLowerCase()) ? 'ndjson' : 'csv';
}
