import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RunResource } from '../src/domain/run';
import { generateProfilesCsv } from './generator';
import { RunProgress, seconds, table } from './report';
import { startSandbox, uploadLimitsFor, type Sandbox } from './sandbox';

/**
 * `npm run demo`: the main job end to end on this machine, with no accounts. Azurite (in memory),
 * the three provider emulators and the app itself start in this process; a generated segment is
 * uploaded through the API; one export per provider runs on demand with live progress; then 1% of
 * the segment changes and a second run sends only the difference. Exits non-zero if a run failed.
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

    for (const run of [...first.values(), ...second.values()]) {
      if (run.status !== 'succeeded' && run.status !== 'partially_succeeded') failed = true;
    }
    const lists = {
      iterable: sandbox.emulators.iterable.listMembers(sandbox.emulators.iterable.listByName('Demo customers')[0]?.id ?? -1).length,
      brevo: sandbox.emulators.brevo.listMembers(exports.brevoListId).length,
      omnisend: sandbox.emulators.omnisend.tagMembers('Demo customers').length,
    };
    console.log(
      `Destination now holds: Iterable list ${lists.iterable.toLocaleString('en-US')}, Brevo list ${lists.brevo.toLocaleString('en-US')}, Omnisend tag ${lists.omnisend.toLocaleString('en-US')} members.`,
    );
    console.log(failed ? '\nA run did not succeed: see the statuses above.' : '\nAll runs succeeded.');
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

function positiveInteger(text: string | undefined, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number`);
  return value;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
