import type { AppContext } from '../app/context';
import type { ConnectionOptions } from '../domain/connection';
import { verifyProviderKey, type ProviderAdapterSettings, type ProviderName } from '../providers';

/**
 * How a connection reaches its provider: the provider, the key, Iterable's region, and the host
 * override of the app settings (emulators, tests). The one mapping from a connection to the
 * provider layer, used to verify a key and to build the adapter the export pipeline uses.
 */
export interface ProviderAccess {
  provider: ProviderName;
  apiKey: string;
  options: ConnectionOptions;
  connectionId?: string;
}

export function providerSettingsFor(context: AppContext, access: ProviderAccess): ProviderAdapterSettings {
  return {
    provider: access.provider,
    apiKey: access.apiKey,
    region: access.options.region,
    baseUrl: context.config.providerBaseUrls[access.provider],
    connectionId: access.connectionId,
    storage: context.storage,
    log: context.log,
  };
}

/**
 * "Connect": resolves when the provider accepts the key; otherwise 422 `provider_auth_failed`
 * (rejected) or 502 `provider_unavailable` (unreachable, failing), before anything is saved.
 */
export async function verifyConnectionKey(
  context: AppContext,
  access: ProviderAccess,
  options: { abortSignal?: AbortSignal } = {},
): Promise<void> {
  await verifyProviderKey(providerSettingsFor(context, access), { abortSignal: options.abortSignal });
}
