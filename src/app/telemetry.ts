// Metrics and traces through OpenTelemetry. At host start (functions/app.ts) `startTelemetry`
// sends them to Application Insights with the app's identity when
// `APPLICATIONINSIGHTS_CONNECTION_STRING` is set (the Azure Monitor distro); otherwise the global
// providers stay the API's no-ops and every call here costs next to nothing. Tests install an
// in-memory provider. Attributes are `runId`, `exportId`, `provider` (and a run's `status`): never
// an email address, a key or a URL.
import { metrics, trace, SpanStatusCode, type Attributes, type Counter, type Histogram, type MeterProvider, type Span } from '@opentelemetry/api';
import type { TokenCredential } from '@azure/identity';

export const TELEMETRY_NAME = 'segment-export';

/** The metric names: the workbook and the alert rules (infra/app/alerts.bicep) query these. */
export const METRICS = {
  recordsSent: 'segment_export.records.sent',
  recordsRejected: 'segment_export.records.rejected',
  recordsRemoved: 'segment_export.records.removed',
  recordsSuppressed: 'segment_export.records.suppressed',
  providerRequests: 'segment_export.provider.requests',
  providerThrottled: 'segment_export.provider.throttled',
  governorWait: 'segment_export.governor.wait',
  runDuration: 'segment_export.run.duration',
  runsEnded: 'segment_export.runs.ended',
  chunkQueueAge: 'segment_export.chunk.queue_age',
} as const;

/** The only attributes a metric or span of ours carries. */
export interface TelemetryAttributes {
  runId?: string;
  exportId?: string;
  provider?: string;
  status?: string;
}

interface Instruments {
  recordsSent: Counter;
  recordsRejected: Counter;
  recordsRemoved: Counter;
  recordsSuppressed: Counter;
  providerRequests: Counter;
  providerThrottled: Counter;
  governorWait: Histogram;
  runDuration: Histogram;
  runsEnded: Counter;
  chunkQueueAge: Histogram;
}

const instruments = new WeakMap<MeterProvider, Instruments>();

/** The instruments of the global meter provider now (tests replace it). */
function meters(): Instruments {
  const provider = metrics.getMeterProvider();
  let found = instruments.get(provider);
  if (!found) {
    const meter = provider.getMeter(TELEMETRY_NAME);
    const records = (name: string, description: string) => meter.createCounter(name, { unit: '{record}', description });
    found = {
      recordsSent: records(METRICS.recordsSent, 'Records a provider accepted (adds and updates)'),
      recordsRejected: records(METRICS.recordsRejected, 'Records a provider refused'),
      recordsRemoved: records(METRICS.recordsRemoved, 'Members removed from a list or tag'),
      recordsSuppressed: records(METRICS.recordsSuppressed, 'Members not sent because they were erased'),
      providerRequests: meter.createCounter(METRICS.providerRequests, { unit: '{request}', description: 'Requests answered by a provider' }),
      providerThrottled: meter.createCounter(METRICS.providerThrottled, { unit: '{request}', description: 'Requests a provider answered with 429' }),
      governorWait: meter.createHistogram(METRICS.governorWait, { unit: 'ms', description: 'How long a request waited for a rate-governor token' }),
      runDuration: meter.createHistogram(METRICS.runDuration, { unit: 's', description: 'From a run being created to its end' }),
      runsEnded: meter.createCounter(METRICS.runsEnded, { unit: '{run}', description: 'Runs that ended, by status' }),
      chunkQueueAge: meter.createHistogram(METRICS.chunkQueueAge, { unit: 'ms', description: 'How long a chunk message was on its queue before a sender took it' }),
    };
    instruments.set(provider, found);
  }
  return found;
}

function only(attributes: TelemetryAttributes): Attributes {
  const out: Attributes = {};
  if (attributes.runId) out.runId = attributes.runId;
  if (attributes.exportId) out.exportId = attributes.exportId;
  if (attributes.provider) out.provider = attributes.provider;
  if (attributes.status) out.status = attributes.status;
  return out;
}

export type RecordOutcome = 'sent' | 'rejected' | 'removed' | 'suppressed';

/** Counts records of a run by what became of them. */
export function countRecords(outcome: RecordOutcome, count: number, attributes: TelemetryAttributes): void {
  if (count <= 0) return;
  const instrument = { sent: 'recordsSent', rejected: 'recordsRejected', removed: 'recordsRemoved', suppressed: 'recordsSuppressed' } as const;
  meters()[instrument[outcome]].add(count, only({ runId: attributes.runId, exportId: attributes.exportId, provider: attributes.provider }));
}

/** A provider answered a request (`statusCode` 429: throttled too). */
export function countProviderRequest(provider: string, statusCode: number | undefined): void {
  const instruments = meters();
  instruments.providerRequests.add(1, { provider });
  if (statusCode === 429) instruments.providerThrottled.add(1, { provider });
}

export function recordGovernorWait(waitInMs: number, attributes: TelemetryAttributes): void {
  meters().governorWait.record(Math.max(0, waitInMs), only(attributes));
}

/** A run ended: its duration and status. */
export function recordRunEnded(run: { runId: string; exportId: string; provider: string; status: string; createdAt: string }, now: Date): void {
  const attributes = only(run);
  const instruments = meters();
  instruments.runsEnded.add(1, attributes);
  instruments.runDuration.record(Math.max(0, (now.getTime() - Date.parse(run.createdAt)) / 1000), attributes);
}

/** How long a chunk message waited on its queue (the trigger's `insertionTime`). */
export function recordChunkQueueAge(insertionTime: unknown, now: Date, attributes: TelemetryAttributes): void {
  const inserted = insertionTime instanceof Date ? insertionTime.getTime() : typeof insertionTime === 'string' ? Date.parse(insertionTime) : Number.NaN;
  if (Number.isNaN(inserted)) return;
  meters().chunkQueueAge.record(Math.max(0, now.getTime() - inserted), only(attributes));
}

/** Runs `work` in a span named `name` with our attributes; an error marks the span and is rethrown. */
export async function withSpan<T>(name: string, attributes: TelemetryAttributes, work: (span: Span) => Promise<T>): Promise<T> {
  return await trace.getTracer(TELEMETRY_NAME).startActiveSpan(name, { attributes: only(attributes) }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message.slice(0, 200) : 'failed' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Adds our attributes to the active span (what a function learns once it has read the run). */
export function annotateSpan(attributes: TelemetryAttributes): void {
  trace.getActiveSpan()?.setAttributes(only(attributes));
}

export interface StartTelemetryOptions {
  connectionString: string | undefined;
  /** The app's identity (Application Insights accepts no instrumentation key alone: local auth is off). */
  credential?: TokenCredential;
}

let started = false;

/** Sends metrics and traces to Application Insights when a connection string is set; answers whether it does. */
export async function startTelemetry(options: StartTelemetryOptions): Promise<boolean> {
  if (started || !options.connectionString) return started;
  const { useAzureMonitor } = await import('@azure/monitor-opentelemetry');
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString: options.connectionString, ...(options.credential ? { credential: options.credential } : {}) },
    // Our own metrics and spans; the host already reports requests and dependencies of its own.
    instrumentationOptions: { http: { enabled: false } },
  });
  started = true;
  return true;
}

/** `startTelemetry` with the process's settings: the identity is the app's user-assigned one. */
export async function startTelemetryFromEnvironment(env: Record<string, string | undefined> = process.env): Promise<boolean> {
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return false;
  const { DefaultAzureCredential } = await import('@azure/identity');
  const clientId = env.AZURE_CLIENT_ID ?? env.AzureWebJobsStorage__clientId;
  return await startTelemetry({ connectionString, credential: new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}) });
}
