import { context as otelContext, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS } from '../../src/app/telemetry';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
let app: TestApp;

beforeAll(async () => {
  // As the Azure Monitor distro does: spans follow the async work they were started around.
  otelContext.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);
  app = await startTestApp({ emulators: { rateScale: 20 } });
});
afterAll(async () => {
  await app?.close();
  metrics.disable();
  trace.disable();
  otelContext.disable();
  await meterProvider.shutdown();
});

interface Point {
  name: string;
  attributes: Record<string, unknown>;
  value: unknown;
}

function points(resourceMetrics: readonly ResourceMetrics[]): Point[] {
  return resourceMetrics.flatMap((resource) =>
    resource.scopeMetrics.flatMap((scope) =>
      scope.metrics.flatMap((metric) => metric.dataPoints.map((point) => ({ name: metric.descriptor.name, attributes: point.attributes, value: point.value }))),
    ),
  );
}

const sum = (all: Point[], name: string, attributes: Record<string, unknown> = {}) =>
  all
    .filter((point) => point.name === name && Object.entries(attributes).every(([key, value]) => point.attributes[key] === value))
    .reduce((total, point) => total + (typeof point.value === 'number' ? point.value : 0), 0);

/** The exported points once `done` holds for them (flushed every 100 ms, at most 10 s). */
async function flushedUntil(done: (found: Point[]) => boolean): Promise<Point[]> {
  for (const deadline = Date.now() + 10_000; ; ) {
    await reader.forceFlush();
    // Cumulative: the latest export holds every total so far.
    const found = points(metricExporter.getMetrics().slice(-1));
    if (done(found) || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Erases one person and waits for the erasure to end. */
async function erase(email: string): Promise<void> {
  const started = await app.api<{ erasureId: string }>('POST', 'privacy/erasures', { json: { email } });
  expect(started.status).toBe(202);
  for (const deadline = Date.now() + 60_000; ; ) {
    const erasure = await app.api<{ status: string }>('GET', `privacy/erasures/${started.body.erasureId}`);
    if (['succeeded', 'partially_succeeded', 'failed'].includes(erasure.body.status)) return;
    if (Date.now() > deadline) throw new Error(`the erasure did not end: ${JSON.stringify(erasure.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('metrics and traces', () => {
  it('reach an in-memory exporter with the right names and attributes, and no email or key in any attribute', async () => {
    const connectionId = await app.createConnection('iterable');
    const people = Array.from({ length: 300 }, (_, index) => ({ id: `t${index}`, email: `telemetry${index}@example.com` }));
    await app.uploadSegment('telemetry', 'Telemetry', segmentCsv([...people, { id: 'bad', email: 'x@example.invalid' }]));
    const exportId = await app.createExport({ name: 'Telemetry', connectionId, segmentIds: ['telemetry'], mapping: { email: 'Email' } });
    const first = await app.waitForRun(await app.startRun(exportId));
    await app.uploadSegment('telemetry', 'Telemetry', segmentCsv(people.slice(50)));
    // An erased person still in the segment (suppressed by the next run), and a burst of 429s.
    await erase('telemetry60@example.com');
    app.emulators.iterable.setFaults({ throttleForMs: 4_000 });
    const second = await app.waitForRun(await app.startRun(exportId));
    expect([first.status, second.status]).toEqual(['partially_succeeded', 'succeeded']);
    expect(second.totals.suppressed).toBe(1);

    // The run reads as ended once its last write is done; what follows that write (its metrics) comes just after.
    const all = await flushedUntil((found) => found.some((point) => point.name === METRICS.runsEnded && point.attributes.runId === second.runId));
    const run = { runId: first.runId, exportId, provider: 'iterable' };
    expect(sum(all, METRICS.recordsSent, run)).toBe(300);
    expect(sum(all, METRICS.recordsRejected, run)).toBe(1);
    expect(sum(all, METRICS.recordsRemoved, { runId: second.runId, provider: 'iterable' })).toBe(50);
    expect(sum(all, METRICS.providerRequests, { provider: 'iterable' })).toBeGreaterThan(0);
    // Every 429 the emulator answered is counted as throttled, once.
    const throttled = app.emulators.iterable.requests.counts.status429;
    expect(throttled).toBeGreaterThan(0);
    expect(sum(all, METRICS.providerThrottled, { provider: 'iterable' })).toBe(throttled);
    expect(sum(all, METRICS.recordsSuppressed, { runId: second.runId, exportId, provider: 'iterable' })).toBe(1);
    expect(sum(all, METRICS.runsEnded, { ...run, status: 'partially_succeeded' })).toBe(1);
    for (const name of [METRICS.runDuration, METRICS.governorWait, METRICS.chunkQueueAge]) expect(all.some((point) => point.name === name), name).toBe(true);

    const spans = spanExporter.getFinishedSpans();
    expect(spans.some((span) => span.name === 'chunk.send' && span.attributes.runId === first.runId && span.attributes.exportId === exportId && span.attributes.provider === 'iterable')).toBe(true);
    expect(spans.some((span) => span.name === 'run.plan' && span.attributes.exportId === exportId)).toBe(true);

    const allowed = new Set(['runId', 'exportId', 'provider', 'status']);
    const attributes = [...all.map((point) => point.attributes), ...spans.map((span) => span.attributes)];
    for (const set of attributes) expect(Object.keys(set).filter((key) => !allowed.has(key))).toEqual([]);
    const text = JSON.stringify(attributes);
    expect(text).not.toMatch(/@/);
    expect(text).not.toContain(app.emulators.iterable.apiKeys[0]!);
  });
});
