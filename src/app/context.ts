// Everything a handler needs, built once per process from the configuration. Tests and the local
// host build their own (own storage namespace, own secret store) and install it with
// `setAppContext`; handlers only ever call `getAppContext()`.
import { getConfig, type Config } from '../config';
import { createLogger, type Logger } from '../log';
import { createSecretStore, type SecretStore } from '../secrets';
import { createStorageClients, type StorageClients } from '../storage/clients';
import { storageNames } from '../storage/names';

export interface AppContext {
  readonly config: Config;
  readonly storage: StorageClients;
  readonly secrets: SecretStore;
  readonly log: Logger;
  /** Timing knobs that tests, the demo and the benchmark scale down; production uses the defaults. */
  readonly tuning: Tuning;
  now(): Date;
}

export interface Tuning {
  /** Multiplies every provider rate limit the governor applies (the emulators' `rateScale`). */
  rateScale?: number;
  /** Waits for asynchronous provider work (Brevo import status, Omnisend batch status). */
  providerTiming?: {
    brevoPollIntervalMs?: number;
    brevoNotifyFallbackMs?: number;
    omnisendBatchPollMs?: number;
  };
  /** How long one planner invocation may spend listing a provider's contacts before it continues in the next. */
  plannerListingBudgetMs?: number;
  /** The waits before each retry of a notification (default 15 s, 1, 5, 15 and 30 minutes). */
  notificationRetryDelaysMs?: readonly number[];
  /** How long an erasure waits before it looks again at an export with a run in progress. */
  erasureRetryDelayMs?: number;
  /** Segment sources: the wait between the two reads of the completeness check, and before a recheck. */
  sources?: {
    stabilityDelayMs?: number;
    recheckDelayMs?: number;
  };
}

export interface CreateAppContextOptions {
  config?: Config;
  namespace?: string;
  secrets?: SecretStore;
  log?: Logger;
  tuning?: Tuning;
  now?: () => Date;
}

export function createAppContext(options: CreateAppContextOptions = {}): AppContext {
  const config = options.config ?? getConfig();
  return {
    config,
    storage: createStorageClients(config.storage, storageNames(options.namespace ?? '')),
    secrets: options.secrets ?? createSecretStore(config),
    log: options.log ?? createLogger(),
    tuning: options.tuning ?? {},
    now: options.now ?? (() => new Date()),
  };
}

let current: AppContext | undefined;

export function getAppContext(): AppContext {
  current ??= createAppContext();
  return current;
}

/** The context installed or built so far, without building one (callers that only need to know where they run). */
export function peekAppContext(): AppContext | undefined {
  return current;
}

export function setAppContext(context: AppContext | undefined): void {
  current = context;
}
