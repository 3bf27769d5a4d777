// How the pipeline reaches a provider account: a connection becomes { connection, adapter,
// governor account }, built here and only here. The adapter does not retry behind the pipeline's
// back (the pipeline retries through the governor); the one rate governor of this process keeps
// its state in Table storage, shared by every instance.
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { requireConnectionForUse } from '../connections/service';
import { providerSettingsFor } from '../connections/verify';
import type { Connection } from '../domain/connection';
import { createProviderAdapter, createRateGovernor, type GovernorAccount, type RateGovernor } from '../providers';
import type { ProviderAdapter } from '../providers/types';

export interface ProviderAccount {
  connection: Connection;
  adapter: ProviderAdapter;
  /** The connection's share of the governor, with its own limits where it has them. */
  governorAccount: GovernorAccount;
}

export interface RequireProviderAccountOptions extends OperationOptions {
  /** Read the connection and its key now rather than from the last few seconds' cache. */
  fresh?: boolean;
}

/** How long an account is kept: a rotated key or a changed limit is seen within this. */
export const ACCOUNT_CACHE_IN_MS = 10_000;
const accountCaches = new WeakMap<AppContext, Map<string, { value: Promise<ProviderAccount>; expiresAt: number }>>();

/**
 * The account of a connection, kept for `ACCOUNT_CACHE_IN_MS` (every chunk of a run needs it);
 * 404 `not_found` when the connection is gone.
 */
export function requireProviderAccount(context: AppContext, connectionId: string, options: RequireProviderAccountOptions = {}): Promise<ProviderAccount> {
  let cache = accountCaches.get(context);
  if (!cache) {
    cache = new Map();
    accountCaches.set(context, cache);
  }
  const now = Date.now();
  const cached = cache.get(connectionId);
  if (!options.fresh && cached && cached.expiresAt > now) return cached.value;
  const value = buildAccount(context, connectionId, options);
  const entry = { value, expiresAt: now + ACCOUNT_CACHE_IN_MS };
  cache.set(connectionId, entry);
  value.catch(() => {
    if (cache.get(connectionId) === entry) cache.delete(connectionId);
  });
  return value;
}

async function buildAccount(context: AppContext, connectionId: string, options: OperationOptions): Promise<ProviderAccount> {
  const { connection, apiKey } = await requireConnectionForUse(context, connectionId, options);
  const settings = providerSettingsFor(context, { provider: connection.provider, apiKey, options: connection.options, connectionId }, { retry: { maxRetries: 0 } });
  return {
    connection,
    adapter: createProviderAdapter(settings),
    governorAccount: { connectionId: connection.id, provider: connection.provider, rateLimits: connection.options.rateLimits },
  };
}

const governors = new WeakMap<AppContext, RateGovernor>();
export const GOVERNOR_SAFETY_MARGIN_IN_MS = 8;
/**
 * How far ahead a slot may be reserved. A paced counter's next slot is `window / limit` away
 * (200 ms for Iterable); reserving it this early lets a table round trip slowed by a busy storage
 * account still finish before the slot, rather than after it (which costs the slot's lateness).
 */
export const GOVERNOR_MAX_AHEAD_IN_MS = 250;

/** The rate governor of this process (one per app context). */
export function getGovernor(context: AppContext): RateGovernor {
  let governor = governors.get(context);
  if (!governor) {
    governor = createRateGovernor({
      table: context.storage.table(context.storage.names.tables.governor),
      rateScale: context.tuning.rateScale,
      // The senders take the token once the body is built and report when the request went: a
      // grant used late is counted from then, so the margin only covers the way to the provider.
      safetyMarginMs: GOVERNOR_SAFETY_MARGIN_IN_MS,
      maxAheadMs: GOVERNOR_MAX_AHEAD_IN_MS,
      log: context.log,
    });
    governors.set(context, governor);
  }
  return governor;
}
