// The entry point of the provider layer: build an adapter for a connection, or check a key.
// Nothing here logs or returns the key; errors carry the provider's code and message only.
import type { Dispatcher } from 'undici';
import type { Logger } from '../log';
import type { StorageClients } from '../storage/clients';
import { BrevoAdapter, type BrevoAttributeNames } from './brevo/adapter';
import { toApiError } from './errors';
import { ProviderHttpClient, type RetryPolicy } from './http';
import { ITERABLE_HOSTS, IterableAdapter, type IterableRegion } from './iterable/adapter';
import { OMNISEND_API_VERSION, OmnisendAdapter } from './omnisend/adapter';
import { createMemoryTargetRegistry, createTableTargetRegistry, type TargetRegistry } from './target-registry';
import type { ProviderAdapter, ProviderCallOptions, ProviderName } from './types';

export const DEFAULT_BASE_URLS: Record<ProviderName, string> = {
  iterable: ITERABLE_HOSTS.us,
  brevo: 'https://api.brevo.com/v3',
  omnisend: 'https://api.omnisend.com/api',
};

export interface ProviderAdapterSettings {
  provider: ProviderName;
  apiKey: string;
  /** Iterable's data centre; a key works only in its own. Default `us`. */
  region?: IterableRegion;
  /** `Config.providerBaseUrls[provider]` (emulators, tests); wins over the region's host. */
  baseUrl?: string;
  /** Brevo attribute names (default `FIRSTNAME`, `LASTNAME`, `SMS`); `null` leaves a field out. */
  brevoAttributes?: BrevoAttributeNames;
  /** Iterable subscribers per request (undocumented by Iterable; default 1,000). */
  iterableMaxSubscribers?: number;
  /** The connection: Iterable list ids are remembered per connection. */
  connectionId?: string;
  /** Where Iterable list ids are remembered (the targets table), so racing workers create a list once. */
  storage?: StorageClients;
  /** Instead of `storage`: a registry of your own (tests). Without either, only this process coordinates. */
  targetRegistry?: TargetRegistry;
  http?: {
    dispatcher?: Dispatcher;
    timeoutInMs?: number;
    retry?: Partial<RetryPolicy>;
    /** The wait a 429 carries when the provider says nothing (Iterable). Default 1 s. */
    defaultThrottleWaitMs?: number;
    random?: () => number;
  };
  /** Asynchronous processing waits (scaled down in tests). */
  timing?: {
    brevoPollIntervalMs?: number;
    brevoNotifyFallbackMs?: number;
    omnisendBatchPollMs?: number;
    iterableListWaitMs?: number;
    iterableListClaimTtlMs?: number;
  };
  log?: Logger;
  now?: () => number;
}

const processRegistry = createMemoryTargetRegistry();

export function createProviderAdapter(settings: ProviderAdapterSettings): ProviderAdapter {
  const timing = settings.timing ?? {};
  switch (settings.provider) {
    case 'iterable':
      return new IterableAdapter({
        http: httpClient(settings, ITERABLE_HOSTS[settings.region ?? 'us'], { 'Api-Key': settings.apiKey }),
        connectionId: settings.connectionId ?? 'connection',
        registry:
          settings.targetRegistry ??
          (settings.storage ? createTableTargetRegistry(settings.storage.table(settings.storage.names.tables.targets)) : processRegistry),
        listWaitMs: timing.iterableListWaitMs,
        listClaimTtlMs: timing.iterableListClaimTtlMs,
        maxSubscribersPerRequest: settings.iterableMaxSubscribers,
        now: settings.now,
      });
    case 'brevo':
      return new BrevoAdapter({
        http: httpClient(settings, DEFAULT_BASE_URLS.brevo, { 'api-key': settings.apiKey }),
        attributes: settings.brevoAttributes,
        pollIntervalMs: timing.brevoPollIntervalMs,
        notifyFallbackMs: timing.brevoNotifyFallbackMs,
      });
    case 'omnisend':
      return new OmnisendAdapter({
        http: httpClient(
          settings,
          DEFAULT_BASE_URLS.omnisend,
          { authorization: `Omnisend-API-Key ${settings.apiKey}` },
          { 'Omnisend-Version': OMNISEND_API_VERSION },
        ),
        batchPollMs: timing.omnisendBatchPollMs,
      });
  }
}

/**
 * The first wait after a 429 that names none (the governor doubles it while 429s repeat). Iterable
 * says nothing; its limit is 5 requests per second, so a slot frees within a fifth of a second and a
 * whole second would idle the account for nothing.
 */
const DEFAULT_THROTTLE_WAIT_MS_BY_PROVIDER: Record<ProviderName, number | undefined> = { iterable: 250, brevo: undefined, omnisend: undefined };

/** How long "Connect" waits for the provider before saying it is unavailable. */
const VERIFY_TIMEOUT_MS = 10_000;

/**
 * "Connect": resolves when the provider accepts the key. A rejected key throws the catalog's
 * `provider_auth_failed` (422); a provider that cannot be reached or answers oddly throws
 * `provider_unavailable` (502). The classified provider error is kept as `cause`.
 */
export async function verifyProviderKey(settings: ProviderAdapterSettings, options: ProviderCallOptions = {}): Promise<void> {
  try {
    await createProviderAdapter(settings).verifyCredentials({ timeoutInMs: VERIFY_TIMEOUT_MS, ...options });
  } catch (error) {
    throw toApiError(error);
  }
}

function httpClient(
  settings: ProviderAdapterSettings,
  defaultBaseUrl: string,
  credentialHeaders: Record<string, string>,
  headers: Record<string, string> = {},
): ProviderHttpClient {
  return new ProviderHttpClient({
    provider: settings.provider,
    baseUrl: settings.baseUrl ?? defaultBaseUrl,
    credentialHeaders,
    headers,
    secret: settings.apiKey,
    dispatcher: settings.http?.dispatcher,
    timeoutInMs: settings.http?.timeoutInMs,
    retry: settings.http?.retry,
    defaultThrottleWaitMs: settings.http?.defaultThrottleWaitMs ?? DEFAULT_THROTTLE_WAIT_MS_BY_PROVIDER[settings.provider],
    random: settings.http?.random,
    log: settings.log,
  });
}

export { chunkItemBytes } from './records';
export { closeSharedDispatcher } from './http';
export * from './errors';
export * from './types';
export { BUCKETS, PROVIDER_RATE_PROFILES } from './limits';
export { createRateGovernor, RateGovernor, type GovernorAccount, type TakeResult } from './governor';
export { createTableTargetRegistry, createMemoryTargetRegistry, type TargetRegistry } from './target-registry';
export type { BrevoAttributeNames } from './brevo/adapter';
export type { IterableRegion } from './iterable/adapter';
