// How a connection reaches its provider: the provider, the key, Iterable's region, the host
// override of the app settings (emulators, tests) and the app's timing knobs. The one mapping from
// a connection to the provider layer: it verifies a key here and builds the pipeline's adapter.
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import type { ConnectionOptions } from '../domain/connection';
import type { ProviderName } from '../domain/provider';
import { verifyProviderKey, type ProviderAdapterSettings } from '../providers';
import type { RetryPolicy } from '../providers/http';

export interface ProviderAccess {
  provider: ProviderName;
  apiKey: string;
  options: ConnectionOptions;
  connectionId?: string;
}

export interface ProviderSettingsOptions {
  /** The HTTP client's own retries (the pipeline turns them off: it retries through the governor). */
  retry?: Partial<RetryPolicy>;
}

export function providerSettingsFor(context: AppContext, access: ProviderAccess, options: ProviderSettingsOptions = {}): ProviderAdapterSettings {
  return {
    provider: access.provider,
    apiKey: access.apiKey,
    region: access.options.region,
    baseUrl: context.config.providerBaseUrls[access.provider],
    connectionId: access.connectionId,
    storage: context.storage,
    log: context.log,
    timing: context.tuning.providerTiming,
    ...(options.retry ? { http: { retry: options.retry } } : {}),
  };
}

/**
 * "Connect": resolves when the provider accepts the key; otherwise 422 `provider_auth_failed`
 * (rejected) or 502 `provider_unavailable` (unreachable, failing), before anything is saved.
 */
export async function verifyConnectionKey(context: AppContext, access: ProviderAccess, options: OperationOptions = {}): Promise<void> {
  await verifyProviderKey(providerSettingsFor(context, access), { abortSignal: options.abortSignal });
}
