// What the benchmark counts inside an app instance, for the cost of a run: the storage requests it
// makes (seen on Node's http client, which the Azure Storage SDKs use; each one is a billed
// transaction), the function executions, and how long the instance was busy running at least one
// (Flex Consumption bills an on-demand instance's memory for that time).
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import type { FunctionDefinition } from '../../src/app/definitions';

export type StorageService = 'blob' | 'queue' | 'table';

/** Requests by service, then by operation kind (`write`, `read`, `list`, `receive`, `batch`, …). */
export type StorageCounts = Record<StorageService, Record<string, number>>;

export function emptyStorageCounts(): StorageCounts {
  return { blob: {}, queue: {}, table: {} };
}

/** The kind of a storage request, as the price lists group them. */
export function storageOperation(service: StorageService, method: string, path: string): string {
  const [pathname = '', query = ''] = path.split('?');
  const search = new URLSearchParams(query);
  switch (service) {
    case 'blob':
      // As Blob Storage bills a general-purpose v2 account (map-rest-apis-transaction-categories).
      if (search.get('comp') === 'list' || (method === 'PUT' && search.get('restype') === 'container')) return 'list';
      if (method === 'PUT') return 'write';
      if (method === 'DELETE') return 'delete';
      return method === 'GET' && !search.has('comp') ? 'read' : 'other';
    case 'queue':
      if (!/\/messages(\/|$)/.test(pathname)) return 'other';
      if (method === 'GET') return search.get('peekonly') === 'true' ? 'peek' : 'receive';
      if (method === 'POST') return 'put';
      if (method === 'PUT') return 'update';
      return method === 'DELETE' ? 'delete' : 'other';
    case 'table':
      if (method === 'POST' && pathname.endsWith('/$batch')) return 'batch';
      if (method === 'GET') return /\(.*\)$/.test(pathname) && !/Tables/.test(pathname) ? 'read' : 'query';
      if (method === 'POST') return 'insert';
      return method === 'DELETE' ? 'delete' : 'update';
  }
}

/** The function whose execution is running (storage requests outside any are the host's own: queue polling). */
const currentFunction = new AsyncLocalStorage<string>();

/** Where storage requests came from: `host` (the Functions host: queue polling, message deletes) or a function's name. */
export type StorageCountsByOrigin = Record<string, StorageCounts>;

/** Counts every request this process sends to the storage account's ports, by the function that sent it. */
export class StorageMeter {
  private counts: StorageCountsByOrigin = {};
  private readonly services: Map<string, StorageService>;
  private readonly onRequest = (message: unknown) => this.record((message as { request: ClientRequest }).request);

  constructor(ports: Record<StorageService, number>) {
    this.services = new Map(Object.entries(ports).map(([service, port]) => [String(port), service as StorageService]));
  }

  start(): void {
    subscribe('http.client.request.start', this.onRequest);
  }

  stop(): void {
    unsubscribe('http.client.request.start', this.onRequest);
  }

  snapshot(): StorageCountsByOrigin {
    return structuredClone(this.counts);
  }

  reset(): void {
    this.counts = {};
  }

  private record(request: ClientRequest): void {
    const host = request.getHeader('host');
    const port = typeof host === 'string' ? host.split(':')[1] : undefined;
    const service = port === undefined ? undefined : this.services.get(port);
    if (!service) return;
    const operation = storageOperation(service, request.method, request.path);
    const counts = (this.counts[currentFunction.getStore() ?? 'host'] ??= emptyStorageCounts())[service];
    counts[operation] = (counts[operation] ?? 0) + 1;
  }
}

export interface InvocationCounts {
  /** By function name: its trigger, executions and their summed duration. */
  functions: Record<string, { kind: FunctionDefinition['kind']; executions: number; ms: number }>;
  /** Time with at least one execution running (an instance's billed active time). */
  busyMs: number;
  /** The same, counting only queue and timer executions (the run's work, not the HTTP API it was watched through). */
  backgroundBusyMs: number;
}

/** The time during which at least one of the executions it was told of ran. */
class BusyClock {
  private running = 0;
  private since = 0;
  private totalMs = 0;

  begin(): void {
    if (this.running === 0) this.since = performance.now();
    this.running++;
  }

  end(): void {
    this.running--;
    if (this.running === 0) this.totalMs += performance.now() - this.since;
  }

  get ms(): number {
    return this.totalMs + (this.running > 0 ? performance.now() - this.since : 0);
  }

  reset(): void {
    this.totalMs = 0;
    if (this.running > 0) this.since = performance.now();
  }
}

/** Wraps function handlers to count executions and the time the instance was busy. */
export class InvocationMeter {
  private functions: InvocationCounts['functions'] = {};
  private readonly all = new BusyClock();
  private readonly background = new BusyClock();

  wrap(definition: FunctionDefinition): FunctionDefinition {
    const original = definition.options.handler as (...args: unknown[]) => Promise<unknown>;
    const clocks = definition.kind === 'http' ? [this.all] : [this.all, this.background];
    const handler = async (...args: unknown[]) => {
      for (const clock of clocks) clock.begin();
      const startedAt = performance.now();
      try {
        return await currentFunction.run(definition.name, () => original(...args));
      } finally {
        for (const clock of clocks) clock.end();
        this.record(definition, performance.now() - startedAt);
      }
    };
    return { ...definition, options: { ...definition.options, handler } } as FunctionDefinition;
  }

  snapshot(): InvocationCounts {
    return { functions: structuredClone(this.functions), busyMs: this.all.ms, backgroundBusyMs: this.background.ms };
  }

  reset(): void {
    this.functions = {};
    this.all.reset();
    this.background.reset();
  }

  private record(definition: FunctionDefinition, ms: number): void {
    const entry = (this.functions[definition.name] ??= { kind: definition.kind, executions: 0, ms: 0 });
    entry.executions++;
    entry.ms += ms;
  }
}
