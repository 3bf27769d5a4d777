// What a run costs in Azure, from what the app instances counted during it: storage transactions
// by service and kind, function executions, and GB-seconds (each instance's time busy with at least
// one execution times the instance memory, as Flex Consumption bills an on-demand instance), priced
// with the published prices below. The HTTP API the benchmark watched the run through is left out
// (a real run is started by one request and watched by whoever cares).
import type { RunFigures } from './figures';
import { emptyStorageCounts, type StorageCounts } from './meters';
import { PRICES, type Price } from './prices';

/** Flex Consumption's default instance memory, and the template's (`infra/main.bicep` `instanceMemoryMB`). */
export const INSTANCE_MEMORY_GB = 2;

export interface RunCost {
  profiles: number;
  /** Requests by service and kind, summed over the instances (the run's own: queue polling by the host included). */
  storage: StorageCounts;
  /** Of the queue requests: the host's polls of every queue (idle ones included). */
  hostQueueReceives: number;
  executions: number;
  busySeconds: number;
  gbSeconds: number;
  usd: { tables: number; queues: number; blobs: number; executions: number; compute: number; total: number };
}

export function runCost(run: RunFigures): RunCost {
  const storage = emptyStorageCounts();
  let executions = 0;
  let busySeconds = 0;
  let hostQueueReceives = 0;
  for (const instance of run.usage.instances) {
    const http = new Set(Object.entries(instance.invocations.functions).filter(([, f]) => f.kind === 'http').map(([name]) => name));
    for (const [origin, counts] of Object.entries(instance.storage)) {
      if (http.has(origin)) continue;
      for (const service of ['blob', 'queue', 'table'] as const) {
        for (const [operation, n] of Object.entries(counts[service])) storage[service][operation] = (storage[service][operation] ?? 0) + n;
      }
      if (origin === 'host') hostQueueReceives += counts.queue.receive ?? 0;
    }
    for (const f of Object.values(instance.invocations.functions)) if (f.kind !== 'http') executions += f.executions;
    busySeconds += instance.invocations.backgroundBusyMs / 1000;
  }
  const gbSeconds = busySeconds * INSTANCE_MEMORY_GB;
  const usd = price(storage, executions, gbSeconds);
  return { profiles: run.profiles, storage, hostQueueReceives, executions, busySeconds, gbSeconds, usd };
}

/** The dollars of a run's counts at the current prices. */
export function priceCost(cost: Pick<RunCost, 'storage' | 'executions' | 'gbSeconds'>): RunCost['usd'] {
  return price(cost.storage, cost.executions, cost.gbSeconds);
}

function price(storage: StorageCounts, executions: number, gbSeconds: number): RunCost['usd'] {
  // An unconfirmed price counts as nothing: the total is of the confirmed prices only.
  const of = (count: number, p: Price) => (count / p.per) * (p.usd ?? 0);
  const sum = (counts: Record<string, number>, priceOf: (operation: string) => Price | undefined) =>
    Object.entries(counts).reduce((total, [operation, n]) => {
      const p = priceOf(operation);
      return total + (p ? of(n, p) : 0);
    }, 0);
  const tables = sum(storage.table, () => PRICES.tableTransactions);
  const queues = sum(storage.queue, (operation) => (operation === 'peek' ? PRICES.queueClass2 : PRICES.queueClass1));
  const blobs = sum(storage.blob, (operation) => {
    if (operation === 'write') return PRICES.blobWrite;
    if (operation === 'list') return PRICES.blobList;
    if (operation === 'read') return PRICES.blobRead;
    return operation === 'delete' ? undefined : PRICES.blobOther;
  });
  const executionUsd = of(executions, PRICES.flexExecutions);
  const compute = of(gbSeconds, PRICES.flexExecutionTime);
  return { tables, queues, blobs, executions: executionUsd, compute, total: tables + queues + blobs + executionUsd + compute };
}

/** The same cost for `profiles` profiles (a linear scale: per 1M profiles). */
export function scaleCost(cost: RunCost, profiles: number): RunCost {
  const k = profiles / Math.max(1, cost.profiles);
  const scaleCounts = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).map(([operation, n]) => [operation, n * k]));
  return {
    profiles,
    storage: { blob: scaleCounts(cost.storage.blob), queue: scaleCounts(cost.storage.queue), table: scaleCounts(cost.storage.table) },
    hostQueueReceives: cost.hostQueueReceives * k,
    executions: cost.executions * k,
    busySeconds: cost.busySeconds * k,
    gbSeconds: cost.gbSeconds * k,
    usd: Object.fromEntries(Object.entries(cost.usd).map(([item, usd]) => [item, usd * k])) as RunCost['usd'],
  };
}
