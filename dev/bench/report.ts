// docs/benchmarks.md, section by section: each invocation of the benchmark replaces the sections
// it measured and keeps the others (the 1M throttled runs, the two-instance runs and the 10M runs
// are separate invocations, each section saying how, when and under what load it was measured).
// Each section carries its figures as JSON in a comment, so that a later section can use them (the
// 10M runs are compared with the 1M unthrottled ones).
import { execSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { z } from 'zod';
import { markdownTable, table } from '../report';
import { priceCost, scaleCost } from './cost';
import type { Usage } from './environment';
import type { Options, RunFigures, ThrottledFigures, UnthrottledFigures } from './figures';
import { PRICES, type Price } from './prices';

export type Section =
  | { kind: 'throttled'; options: Options; throttled: ThrottledFigures[] }
  | { kind: 'unthrottled' | 'large'; options: Options; unthrottled: UnthrottledFigures[] };

interface Rendered {
  key: string;
  title: string;
  markdown: string;
  console: string;
  data: unknown;
}

const countsSchema = z.record(z.string(), z.number());
const costDataSchema = z.array(
  z.object({
    provider: z.enum(['iterable', 'brevo', 'omnisend']),
    cost: z.object({
      profiles: z.number(),
      storage: z.object({ blob: countsSchema, queue: countsSchema, table: countsSchema }),
      hostQueueReceives: z.number(),
      executions: z.number(),
      busySeconds: z.number(),
      gbSeconds: z.number(),
    }),
  }),
);

const ORDER = ['throttled-1', 'throttled-2', 'unthrottled', 'large', 'cost'];

const INTRO = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (`dev/bench.ts`); each section says how, when and on which commit it was',
  'measured. Azurite, the provider emulators and every app instance run in processes of their own; an',
  'app instance runs with a 384 MB heap limit (`--max-old-space-size=384`), which shows that its live',
  'memory is bounded. Times run from the run request to its last confirmed chunk, planning (the safety',
  'survey included) and delivery. The machine may be shared: every figure carries the load averages',
  '(1, 5 and 15 minutes, as `uptime` prints them) before and after its run, and the CPU time each',
  'process used, which the load affects much less than the wall time.',
  '',
].join('\n');

export function renderDocument(existing: string, sections: Section[]): { markdown: string; console: string } {
  const kept = parseSections(existing);
  const consoleParts: string[] = [];
  for (const section of sections) {
    for (const rendered of renderSection(section, kept)) {
      kept.set(rendered.key, wrap(rendered));
      consoleParts.push(`${rendered.title}\n${rendered.console}`);
    }
  }
  const keys = [...ORDER.filter((key) => kept.has(key)), ...[...kept.keys()].filter((key) => !ORDER.includes(key))];
  return { markdown: `${INTRO}\n${keys.map((key) => kept.get(key)).join('\n\n')}\n`, console: consoleParts.join('\n\n') };
}

/** Each `<!-- section:key -->` … `<!-- /section:key -->` block of a document, by key. */
export function parseSections(document: string): Map<string, string> {
  const sections = new Map<string, string>();
  const pattern = /<!-- section:([a-z0-9-]+) -->[\s\S]*?<!-- \/section:\1 -->/g;
  for (const match of document.matchAll(pattern)) sections.set(match[1]!, match[0]);
  return sections;
}

/** The figures a section carries (undefined when it has none). */
export function sectionData(section: string | undefined): unknown {
  const match = section?.match(/<!-- data (.*) -->/);
  return match ? (JSON.parse(match[1]!) as unknown) : undefined;
}

function wrap(rendered: Rendered): string {
  return [`<!-- section:${rendered.key} -->`, `## ${rendered.title}`, '', rendered.markdown, '', `<!-- data ${JSON.stringify(rendered.data)} -->`, `<!-- /section:${rendered.key} -->`].join('\n');
}

function renderSection(section: Section, kept: ReadonlyMap<string, string>): Rendered[] {
  if (section.kind === 'throttled') {
    const rendered = [renderThrottled(section.options, section.throttled)];
    if (section.options.instances === 1) rendered.push(renderCost(section.options, section.throttled));
    return rendered;
  }
  return section.kind === 'large' ? [renderLarge(section.options, section.unthrottled, kept)] : [renderUnthrottled(section.options, section.unthrottled)];
}

/** How, when and where a section was measured; `measured` keeps an earlier measurement's date and commit. */
function provenance(options: Options, measured?: string[]): string {
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node.js ${process.version}`;
  if (measured?.length === 2) return `Measured by \`${options.command}\` on ${measured[0]} at commit ${measured[1]}; priced on ${new Date().toISOString()}.`;
  return `Measured by \`${options.command}\` on ${new Date().toISOString()} at commit ${gitCommit()}; machine: ${machine}.`;
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits));
const percent = (part: number, whole: number, digits = 1) => `${round((part / Math.max(whole, 1e-9)) * 100, digits)}%`;
const load = (usage: Usage) => `${usage.load.before} → ${usage.load.after}`;
const cpuSeconds = (ms: number | undefined) => (ms === undefined ? 'n/a' : round(ms / 1000));
const appCpu = (usage: Usage) => usage.cpuMs.instances.reduce((sum, ms) => sum + ms, 0);
const peakRss = (usage: Usage) => Math.max(...usage.instances.map((instance) => instance.peakRssMb));

function renderThrottled(options: Options, results: ThrottledFigures[]): Rendered {
  const instances = options.instances;
  const header = ['provider', 'profiles', 'sent', 'rate scale', 'full run s', 'ceiling s', 'efficiency', '429 share', 'most sent in one window', 'delta run s', 'delta / full', 'CPU s app / Azurite / emulators', 'load before → after'];
  const rows = results.map((result) => [
    result.provider,
    result.full.profiles,
    result.full.sent,
    `x${result.scale}`,
    round(result.full.seconds),
    round(result.ceilingSeconds),
    percent(result.ceilingSeconds, result.full.seconds),
    percent(result.throttled, result.requests, 2),
    result.windows.map((window) => `${window.bucket} ${window.maxSent}/${window.limit} per ${window.windowMs / 1000} s`).join('; '),
    round(result.delta.seconds),
    percent(result.delta.seconds, result.full.seconds),
    `${cpuSeconds(appCpu(result.full.usage))} / ${cpuSeconds(result.full.usage.cpuMs.azurite)} / ${cpuSeconds(result.full.usage.cpuMs.emulators)}`,
    load(result.full.usage),
  ]);
  const over = results.flatMap((result) => result.windows.filter((window) => window.maxSent > window.limit).map((window) => `${result.provider} ${window.bucket}`));
  const markdown = [
    provenance(options),
    '',
    `${instances === 1 ? 'One app instance' : `${instances} app instances (separate processes) sharing the rate governor through Table storage`}; emulators enforcing the documented limits times the rate scale.`,
    "The ceiling is what those limits allow for the records sent: a sliding window lets `limit` requests go at once and request k (from 0) no earlier than floor(k / limit) windows later. Iterable: 1,000 subscribers per request, 5 requests/s. Omnisend: the slower of the brand limit (batches of 100 and tag calls, 400/min) and the tags limit (250 emails per call, 60/min). Brevo: the imports at 10 requests/s plus the emulated processing; it is so small that its efficiency says little. Efficiency is ceiling / time; the 429 share is of all requests the provider saw; \"most sent in one window\" is the largest number of requests the app sent (429s included) within any one window of each limit, against the limit, from the emulator's request history (full and delta run). The delta run follows a 1% change of the segment.",
    '',
    markdownTable(header, rows),
    '',
    over.length === 0 ? 'No request was ever sent over a provider window.' : `Requests over a provider window: ${over.join(', ')}.`,
  ].join('\n');
  return {
    key: `throttled-${instances}`,
    title: instances === 1 ? 'Documented limits, one app instance' : `Documented limits, ${instances} app instances`,
    markdown,
    console: table(header, rows),
    data: results.map((result) => ({ provider: result.provider, seconds: result.full.seconds, ceiling: result.ceilingSeconds, requests: result.requests, throttled: result.throttled, windows: result.windows })),
  };
}

function unthrottledRow(run: RunFigures): (string | number)[] {
  return [
    run.provider,
    run.profiles,
    run.sent,
    round(run.seconds),
    Math.round(run.profiles / run.seconds),
    peakRss(run.usage),
    cpuSeconds(appCpu(run.usage)),
    Math.round(run.profiles / (appCpu(run.usage) / 1000)),
    cpuSeconds(run.usage.cpuMs.azurite),
    cpuSeconds(run.usage.cpuMs.emulators),
    load(run.usage),
  ];
}

const UNTHROTTLED_HEADER = ['provider', 'profiles', 'sent', 'seconds', 'profiles/s', 'peak RSS MB', 'app CPU s', 'profiles per app CPU s', 'Azurite CPU s', 'emulators CPU s', 'load before → after'];

function renderUnthrottled(options: Options, results: UnthrottledFigures[]): Rendered {
  const rows = results.map((result) => unthrottledRow(result.full));
  const markdown = [
    provenance(options),
    '',
    'Emulators without rate limits; the segment is uploaded once and each provider runs in turn. "Profiles per app CPU s" is what one fully used core of the app instance would deliver, which the machine\'s load does not change; on 2 cores the app shares them with Azurite and the emulators.',
    '',
    markdownTable(UNTHROTTLED_HEADER, rows),
  ].join('\n');
  return {
    key: 'unthrottled',
    title: 'Unthrottled emulators',
    markdown,
    console: table(UNTHROTTLED_HEADER, rows),
    data: results.map((result) => ({ provider: result.full.provider, profiles: result.full.profiles, seconds: result.full.seconds, appCpuMs: appCpu(result.full.usage) })),
  };
}

const reference = z.array(z.object({ provider: z.string(), profiles: z.number(), seconds: z.number() }));

function renderLarge(options: Options, results: UnthrottledFigures[], kept: ReadonlyMap<string, string>): Rendered {
  const parsed = reference.safeParse(sectionData(kept.get('unthrottled')));
  const oneMillion = new Map((parsed.success ? parsed.data : []).filter((entry) => entry.profiles === 1_000_000).map((entry) => [entry.provider, entry.seconds]));
  const header = ['run', ...UNTHROTTLED_HEADER.slice(1), 'time / 1M time', 'rejects'];
  const rows = results.flatMap((result) => {
    const runs = [result.full, ...(result.delta ? [result.delta] : [])];
    return runs.map((run, i) => {
      const [, ...rest] = unthrottledRow(run);
      const base = oneMillion.get(run.provider);
      const ratio = i === 0 ? (base ? `${round(run.seconds / base)} x` : 'n/a') : `delta: ${percent(run.seconds, result.full.seconds)} of full`;
      return [`${run.provider} ${i === 0 ? 'full' : 'delta'}`, ...rest, ratio, run.rejected + run.invalid + run.duplicates];
    });
  });
  const markdown = [
    provenance(options),
    '',
    'The 10M mode: unthrottled emulators (keeping emails and memberships, not fields), a full run and then a delta run after 1% of the segment changed, with the ledger snapshot and every reject row written as at any size. "Time / 1M time" compares the full run with the 1M unthrottled run of the section above (target: at most 11 x); "rejects" counts the reject rows of the run (invalid and duplicate emails, provider rejects).',
    '',
    markdownTable(header, rows),
  ].join('\n');
  return {
    key: 'large',
    title: `${(options.count / 1e6).toLocaleString('en-US')}M profiles, unthrottled`,
    markdown,
    console: table(header, rows),
    data: results.map((result) => ({ provider: result.full.provider, profiles: result.full.profiles, seconds: result.full.seconds, deltaSeconds: result.delta?.seconds })),
  };
}

/**
 * The cost section of `document` priced again with the current prices (`npm run bench -- --reprice`),
 * from the counts its data comment holds; the document unchanged when it has no cost section.
 */
export function repriceCost(document: string): string {
  const sections = parseSections(document);
  const section = sections.get('cost');
  const data = costDataSchema.safeParse(sectionData(section));
  if (section === undefined || !data.success) return document;
  const command = /Measured by `([^`]*)`/.exec(section)?.[1] ?? 'npm run bench';
  const results = data.data.map((entry) => ({ provider: entry.provider, cost: { ...entry.cost, usd: priceCost(entry.cost) } }));
  const rendered = renderCost({ command } as Options, results as ThrottledFigures[], /on (\S+) at commit (\S+);/.exec(section)?.slice(1));
  return document.replace(section, wrap(rendered));
}

function renderCost(options: Options, results: ThrottledFigures[], measured?: string[]): Rendered {
  const money = (usd: number) => `$${usd < 0.01 ? usd.toFixed(4) : usd.toFixed(3)}`;
  const header = ['provider', 'table tx', 'queue tx (host polls)', 'blob tx', 'executions', 'busy s', 'GB-s', 'storage $', 'executions $', 'GB-s $', 'total $'];
  const rows = results.map((result) => {
    const cost = scaleCost(result.cost, 1_000_000);
    const total = (counts: Record<string, number>) => Math.round(Object.values(counts).reduce((sum, n) => sum + n, 0));
    return [
      result.provider,
      total(cost.storage.table),
      `${total(cost.storage.queue)} (${Math.round(cost.hostQueueReceives)})`,
      total(cost.storage.blob),
      Math.round(cost.executions),
      round(cost.busySeconds),
      round(cost.gbSeconds),
      money(cost.usd.tables + cost.usd.queues + cost.usd.blobs),
      money(cost.usd.executions),
      money(cost.usd.compute),
      money(cost.usd.total),
    ];
  });
  const prices = Object.values(PRICES).map((p: Price) =>
    p.usd === undefined
      ? `- ${p.label}: price not confirmed, counted above but left out of the dollar figures (${p.source}, ${p.retrieved})`
      : `- ${p.label}: $${p.usd} per ${p.per.toLocaleString('en-US')} ${p.unit} (${p.source}, retrieved ${p.retrieved})`,
  );
  const markdown = [
    provenance(options, measured),
    '',
    'Per 1M profiles (the full run of the section above, scaled linearly), without free grants. Storage transactions are the requests the app instances sent to Azurite, by service, from the Azure SDKs (Node\'s http client, counted through `diagnostics_channel`): the queue functions\' own and the host\'s queue polling (in parentheses: its receives, empty polls of idle queues included; the benchmark polls idle queues every 0.5 s at most, host.json every 2 s). The HTTP API the benchmark watched the run through is left out. Executions are the queue-triggered function executions; GB-s are each instance\'s time busy with at least one of them times its memory (2 GB, the template\'s `instanceMemoryMB`), which is how Flex Consumption bills an on-demand instance. An entity-group transaction counts as one table transaction.',
    '',
    markdownTable(header, rows),
    '',
    'Prices (USD, pay as you go; the dollar columns add up the confirmed prices only):',
    ...prices,
  ].join('\n');
  return {
    key: 'cost',
    title: 'The cost of a run in Azure',
    markdown,
    console: table(header, rows),
    data: results.map((result) => ({ provider: result.provider, cost: result.cost })),
  };
}

function gitCommit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}
