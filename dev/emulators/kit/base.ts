import type { FaultSettings, FaultSettingsInput } from './faults';
import type { BucketDefinition, RateLimit, RateQueryOptions, RateStats } from './rate-limits';
import type { RecordedRequest, RequestCounts } from './request-log';
import type { ResolvedCommonOptions } from './options';
import { EmulatorServer, type ProviderProtocol, type Route } from './server';

export type EmulatorProvider = 'iterable' | 'brevo' | 'omnisend';

export interface RequestLogView {
  /** The recent requests, oldest first (at most `requestLogSize`). */
  entries(): RecordedRequest[];
  /** Counters of every request since start (or `reset()`). */
  readonly counts: RequestCounts;
}

export interface RatesView {
  maxRequestsInAnyWindow(bucket: string, windowMs: number, options?: RateQueryOptions): number;
  stats(bucket: string, options?: { keyId?: string }): RateStats;
  /** Buckets that saw at least one request. */
  buckets(): string[];
  /** The limits in force for a bucket, after `rateScale`. */
  limits(bucket: string): readonly RateLimit[];
}

export interface ServerSetup {
  options: ResolvedCommonOptions;
  buckets: BucketDefinition[];
  defaultMaxBodyBytes: number;
  protocol: ProviderProtocol;
  routes: Route[];
}

/**
 * What every emulator offers tests: addresses, keys, the request log, rate history, faults and the
 * summary served at `GET /_emulator/state`. Providers add their state and helpers.
 */
export abstract class BaseEmulator {
  abstract readonly provider: EmulatorProvider;
  protected server!: EmulatorServer;
  readonly requests: RequestLogView;
  readonly rates: RatesView;

  protected constructor(private readonly basePath: string) {
    // The server exists only after the provider's constructor ran `setUp`: look it up lazily.
    const server = () => this.server;
    this.requests = {
      entries: () => server().log.entries(),
      get counts() {
        return server().log.counts;
      },
    };
    this.rates = {
      maxRequestsInAnyWindow: (bucket, windowMs, options) => server().rates.maxRequestsInAnyWindow(bucket, windowMs, options),
      stats: (bucket, options) => server().rates.stats(bucket, options),
      buckets: () => server().rates.bucketsSeen(),
      limits: (bucket) => server().rates.limitsOf(bucket),
    };
  }

  protected setUp(setup: ServerSetup): void {
    const { options } = setup;
    this.server = new EmulatorServer(
      {
        host: options.host,
        port: options.port,
        apiKeys: options.apiKeys,
        buckets: setup.buckets,
        rateScale: options.rateScale,
        unthrottled: options.unthrottled,
        maxRateHistory: options.maxRateHistory,
        requestLogSize: options.requestLogSize,
        recordBodies: options.recordBodies,
        strictContract: options.strictContract,
        faults: options.faults,
        seed: options.seed,
        defaultMaxBodyBytes: setup.defaultMaxBodyBytes,
      },
      setup.protocol,
      setup.routes,
      { summary: () => this.summary(), reset: () => this.clearState() },
    );
  }

  /** @internal used by the start functions. */
  listen(): Promise<void> {
    return this.server.listen();
  }

  /** What the app's `<PROVIDER>_BASE_URL` setting takes. */
  get baseUrl(): string {
    return this.server.origin + this.basePath;
  }

  get origin(): string {
    return this.server.origin;
  }

  get port(): number {
    return this.server.port;
  }

  /** The keys accepted now. Test harness only: never print or log them. */
  get apiKeys(): string[] {
    return this.server.keys.activeKeys();
  }

  addKey(key: string): string {
    return this.server.keys.add(key);
  }

  revokeKey(key: string): void {
    this.server.keys.revoke(key);
  }

  keyIdOf(key: string): string | undefined {
    return this.server.keys.keyIdOf(key);
  }

  get faults(): Readonly<FaultSettings> {
    return this.server.faults.settings;
  }

  setFaults(input: FaultSettingsInput): FaultSettings {
    return this.server.faults.set(input);
  }

  clearFaults(): void {
    this.server.faults.clear();
  }

  /** Resolves when no asynchronous work (imports, batches, notifications) is pending. */
  settled(): Promise<void> {
    return this.server.settled();
  }

  /** Forgets data, the request log and rate history; keeps keys, faults and the lists set up at start. */
  reset(): void {
    this.server.reset();
  }

  close(): Promise<void> {
    return this.server.close();
  }

  summary(): Record<string, unknown> {
    const rateBuckets: Record<string, unknown> = {};
    for (const bucket of this.server.rates.bucketsSeen()) {
      rateBuckets[bucket] = { limits: this.server.rates.limitsOf(bucket), stats: this.server.rates.stats(bucket) };
    }
    return {
      provider: this.provider,
      baseUrl: this.baseUrl,
      ...this.providerSummary(),
      requests: this.server.log.counts,
      rateBuckets,
      faults: this.server.faults.settings,
    };
  }

  protected abstract providerSummary(): Record<string, unknown>;
  protected abstract clearState(): void;
}
