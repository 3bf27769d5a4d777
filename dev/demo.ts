import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RunResource } from '../src/domain/run';
import type { SourceResource } from '../src/domain/source';
import { blobCreatedEvent, deliverEvent, writeCdmFolder } from './cdm-folder';
import { generatedProfileCount, generateProfiles, generateProfilesCsv, PROFILE_FIELDS } from './generator';
import { RunProgress, seconds, table } from './report';
import { startSandbox, uploadLimitsFor, type Sandbox } from './sandbox';

/**
 * `npm run demo`: the main job end to end on this machine, with no accounts. Azurite (in memory),
 * the three provider emulators and the app itself start in this process; a generated segment is
 * uploaded through the API; one export per provider runs on demand with live progress; then 1% of
 * the segment changes and a second run sends only the difference; then the segment arrives as
 * Customer Insights writes it (a CDM folder in Blob Storage, announced by a BlobCreated event) and
 * the exports run by themselves. Exits non-zero if a run failed. `--keep-open` leaves the app
 * running afterwards, for a look at the web app, until Ctrl-C.
 */
const PROVIDERS = ['iterable', 'brevo', 'omnisend'] as const;
type Provider = (typeof PROVIDERS)[number];

const MAPPING = {
  email: 'Email',
  firstName: 'FirstName',
  lastName: 'LastName',
  phone: 'Phone',
  address: 'Address',
  city: 'City',
  countryRegion: 'CountryCode',
  postalCode: 'PostalCode',
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '100000' },
      'rate-scale': { type: 'string', default: '20' },
      seed: { type: 'string', default: '7' },
      log: { type: 'string' },
      'keep-open': { type: 'boolean', default: false },
    },
  });
  const count = positiveInteger(values.count, '--count');
  const rateScale = Number(values['rate-scale']);
  if (!(rateScale > 0)) throw new Error('--rate-scale must be a positive number');
  const seed = positiveInteger(values.seed, '--seed');

  console.log(`segment-export demo: ${count.toLocaleString('en-US')} profiles to Iterable, Brevo and Omnisend emulators`);
  console.log(`Provider rate limits are the documented ones x${rateScale} (--rate-scale), so the demo takes a minute, not an hour.\n`);
  const logFile = values.log ? createWriteStream(values.log) : undefined;
  const sandbox = await startSandbox({
    webhooks: true,
    env: uploadLimitsFor(count),
    emulators: { rateScale, asyncDelayMs: 200, retainAttributes: true },
    tuning: { sources: { stabilityDelayMs: 2_000 } },
    logSink: (record) => {
      if (logFile) logFile.write(`${JSON.stringify(record)}\n`);
      else if (record.level === 'error') console.error(`${record.message} ${JSON.stringify(record)}`);
    },
  });
  let failed = false;
  try {
    const segment = await upload(sandbox, { count, seed });
    console.log(`Uploaded segment 'demo' (${segment.memberCount.toLocaleString('en-US')} members) through PUT /api/segments/demo.\n`);
    const exports = await createExports(sandbox);

    console.log('First run: everything is new.');
    const first = await runAll(sandbox, exports);
    console.log(`\n${summary(first)}\n`);

    await upload(sandbox, { count, seed, changedShare: 0.01 });
    console.log('Changed 1% of the segment (leavers, joiners, changed fields). Second run: only the difference.');
    const second = await runAll(sandbox, exports);
    console.log(`\n${summary(second)}\n`);

    console.log('Customer Insights exports the segment again, as a CDM folder into Blob Storage (2% changed).');
    const third = await sourceRound(sandbox, exports, { count, seed });
    console.log(`\n${summary(third)}\n`);

    for (const run of [...first.values(), ...second.values(), ...third.values()]) {
      if (run.status !== 'succeeded' && run.status !== 'partially_succeeded') failed = true;
    }
    // Omnisend applies tags asynchronously: let the last tag calls land before counting.
    await sandbox.emulators.omnisend.settled();
    const lists = {
      iterable: sandbox.emulators.iterable.listMembers(sandbox.emulators.iterable.listByName('Demo customers')[0]?.id ?? -1).length,
      brevo: sandbox.emulators.brevo.listMembers(exports.brevoListId).length,
      omnisend: sandbox.emulators.omnisend.tagMembers('Demo customers').length,
    };
    console.log(
      `Destination now holds: Iterable list ${lists.iterable.toLocaleString('en-US')}, Brevo list ${lists.brevo.toLocaleString('en-US')}, Omnisend tag ${lists.omnisend.toLocaleString('en-US')} members.`,
    );
    console.log(failed ? '\nA run did not succeed: see the statuses above.' : '\nAll runs succeeded.');
    if (values['keep-open']) {
      console.log(`\nThe app is still running: open ${sandbox.url}/ to see what the demo did (its role switch picks Admin or Contributor).`);
      console.log('Press Ctrl-C to stop it.');
      await untilStopped();
    }
  } finally {
    await sandbox.close();
  }
  process.exitCode = failed ? 1 : 0;
}

async function upload(sandbox: Sandbox, options: { count: number; seed: number; changedShare?: number }) {
  return sandbox.uploadSegment('demo', 'Demo customers', generateProfilesCsv(options));
}

interface DemoExports {
  ids: Record<Provider, string>;
  brevoListId: number;
}

async function createExports(sandbox: Sandbox): Promise<DemoExports> {
  const brevoListId = sandbox.emulators.brevo.createList('Demo customers');
  const ids = {} as Record<Provider, string>;
  for (const provider of PROVIDERS) {
    const connectionId = await sandbox.createConnection(provider);
    ids[provider] = await sandbox.createExport({
      name: `Demo customers to ${provider}`,
      connectionId,
      segmentIds: ['demo'],
      mapping: MAPPING,
      ...(provider === 'brevo' ? { options: { listId: brevoListId } } : {}),
    });
  }
  return { ids, brevoListId };
}

async function runAll(sandbox: Sandbox, exports: DemoExports): Promise<Map<Provider, RunResource>> {
  const progress = new RunProgress(PROVIDERS);
  const runs = await Promise.all(
    PROVIDERS.map(async (provider) => {
      const runId = await sandbox.startRun(exports.ids[provider]);
      const run = await sandbox.waitForRun(runId, {
        timeoutInMs: 60 * 60_000,
        intervalInMs: 250,
        onProgress: (current) => progress.update(provider, current),
      });
      return [provider, run] as const;
    }),
  );
  progress.finish();
  return new Map(runs);
}

/**
 * A source on a container of the (emulated) storage account; Customer Insights' export lands there
 * as model.json and four partitions without a header row; the BlobCreated event that Event Grid
 * would deliver goes on the app's source-events queue; the exports start by themselves.
 */
async function sourceRound(sandbox: Sandbox, exports: DemoExports, options: { count: number; seed: number }): Promise<Map<Provider, RunResource>> {
  const container = sandbox.context.storage.blobService.getContainerClient('customer-insights');
  const folder = 'CustomerInsights_demo/SegmentExports';
  const created = await sandbox.api<SourceResource>('POST', 'sources', {
    json: { displayName: 'Customer Insights', kind: 'cdm-folder', location: { container: 'customer-insights', prefix: folder }, entities: [{ entity: 'DemoCustomers', segmentId: 'demo', name: 'Demo customers' }] },
  });
  if (created.status !== 201) throw new Error(`create source: ${created.status} ${JSON.stringify(created.body)}`);
  const variant = { count: options.count, seed: options.seed, changedShare: 0.02 };
  const rows = (function* () {
    for (const profile of generateProfiles(variant)) yield PROFILE_FIELDS.map((field) => profile[field]);
  })();
  const startedAt = new Date().toISOString();
  const written = await writeCdmFolder(container, {
    folder,
    entities: [{ name: 'DemoCustomers', attributes: PROFILE_FIELDS, rows, partitions: 4, rowsPerPartition: Math.ceil(generatedProfileCount(variant) / 4) }],
  });
  await deliverEvent(sandbox.context.storage.queue(sandbox.context.storage.names.queues.sourceEvents), await blobCreatedEvent(container, written.modelPath));
  console.log(`Wrote ${written.modelPath} and ${written.partitions.DemoCustomers!.length} partitions; the BlobCreated event is on the app's queue (Event Grid is simulated).`);
  console.log('The app checks the export is complete, ingests it as a new version of "demo", and starts the exports: nobody calls the API.');
  const progress = new RunProgress(PROVIDERS);
  const runs = await Promise.all(
    PROVIDERS.map(async (provider) => {
      const runId = await sourceRunId(sandbox, exports.ids[provider], startedAt);
      const run = await sandbox.waitForRun(runId, { timeoutInMs: 60 * 60_000, intervalInMs: 250, onProgress: (current) => progress.update(provider, current) });
      return [provider, run] as const;
    }),
  );
  progress.finish();
  return new Map(runs);
}

/** The run a source started for an export (trigger `source`) after `after`. */
async function sourceRunId(sandbox: Sandbox, exportId: string, after: string): Promise<string> {
  for (const deadline = Date.now() + 10 * 60_000; Date.now() < deadline; ) {
    const runs = await sandbox.api<{ items: RunResource[] }>('GET', `exports/${exportId}/runs`);
    const run = runs.body.items.find((item) => item.trigger === 'source' && item.createdAt > after);
    if (run) return run.runId;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`No run of export ${exportId} started from the source`);
}

function summary(runs: Map<Provider, RunResource>): string {
  return table(
    ['provider', 'status', 'profiles', 'adds', 'updates', 'removed', 'unchanged', 'sent', 'rejected', 'seconds', 'profiles/s'],
    [...runs].map(([provider, run]) => {
      const took = seconds(run);
      return [
        provider,
        run.status,
        run.totals.profiles,
        run.totals.adds,
        run.totals.updates,
        run.totals.removes,
        run.totals.unchanged,
        run.totals.sent,
        run.totals.rejected + run.totals.invalid + run.totals.duplicates,
        Number(took.toFixed(1)),
        Math.round(run.totals.profiles / took),
      ];
    }),
  );
}

/** Resolves on Ctrl-C (SIGINT) or SIGTERM. */
function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

function positiveInteger(text: string | undefined, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number`);
  return value;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
