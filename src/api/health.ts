// `GET /api/health`: whether storage and Key Vault answer. The endpoint needs no principal, so
// the report names each dependency's state and latency and nothing else.
import type { AppContext } from '../app/context';
import type { DependencyState, HealthReport } from '../domain/health';

const CHECK_TIMEOUT_IN_MS = 5_000;
/** How long one report answers every caller: the route is public, and each probe costs a request. */
export const HEALTH_CACHE_TTL_IN_MS = 15_000;

const reports = new WeakMap<AppContext, { report: Promise<HealthReport>; expiresAtMs: number }>();

/**
 * Reachability of storage (tables, queues, blobs) and, when configured, Key Vault. The report
 * names each dependency's state and nothing else: the endpoint is public, so one probe at a time
 * serves every caller (single flight) and its report is reused for 15 s.
 */
export function checkHealth(context: AppContext): Promise<HealthReport> {
  const cached = reports.get(context);
  if (cached && performance.now() < cached.expiresAtMs) return cached.report;
  const entry = { report: probeDependencies(context), expiresAtMs: Number.POSITIVE_INFINITY };
  reports.set(context, entry);
  void entry.report.then(
    () => (entry.expiresAtMs = performance.now() + HEALTH_CACHE_TTL_IN_MS),
    () => reports.delete(context),
  );
  return entry.report;
}

async function probeDependencies(context: AppContext): Promise<HealthReport> {
  const { storage } = context;
  const probes: Record<string, (abortSignal: AbortSignal) => Promise<unknown>> = {
    tables: (abortSignal) => storage.tableService.listTables().byPage({ maxPageSize: 1 }).next().then(() => abortSignal),
    queues: (abortSignal) => storage.queueService.getProperties({ abortSignal }),
    blobs: (abortSignal) => storage.blobService.getProperties({ abortSignal }),
  };
  if (context.secrets.kind === 'key-vault') probes.keyVault = (abortSignal) => context.secrets.checkHealth({ abortSignal });

  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]) => [name, await timed(probe, context)] as const),
  );
  const checks = Object.fromEntries(entries);
  const healthy = entries.every(([, check]) => check.state === 'up');
  return { status: healthy ? 'healthy' : 'unhealthy', checks };
}

async function timed(
  probe: (abortSignal: AbortSignal) => Promise<unknown>,
  context: AppContext,
): Promise<{ state: DependencyState; latencyInMs: number }> {
  const started = performance.now();
  const abortSignal = AbortSignal.timeout(CHECK_TIMEOUT_IN_MS);
  try {
    await Promise.race([
      probe(abortSignal),
      new Promise((_, reject) => abortSignal.addEventListener('abort', () => reject(new Error('timed out')))),
    ]);
    return { state: 'up', latencyInMs: Math.round(performance.now() - started) };
  } catch (error) {
    context.log.warn('health check failed', { error: error instanceof Error ? error : String(error) });
    return { state: 'down', latencyInMs: Math.round(performance.now() - started) };
  }
}
