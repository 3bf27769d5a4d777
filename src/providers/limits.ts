import type { ProviderName, RateCounterName, RateLimitOverrides } from '../domain/provider';

/**
 * Each provider's documented rate limits, as named counters (a sliding window of `limit` requests
 * per `windowMs`) and buckets (the counters one request draws from). A request to Omnisend's
 * `/contacts/tags` counts against both the tags limit and the brand-wide limit, so its bucket names
 * both counters; a bucket with no counters is not limited (a file download off the API host).
 */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface ProviderRateProfile {
  counters: Record<string, RateLimit>;
  buckets: Record<string, readonly string[]>;
  /**
   * Counters that keep part of another for one kind of request: `batches` is the brand limit minus
   * the tags limit, so batch posts and status reads can never take the brand budget that the tag
   * calls (the binding limit) need. Computed after overrides.
   */
  shares?: Record<string, { of: string; leaving: string }>;
}

/** The bucket names adapters hand to the governor (`nextBucket`). */
export const BUCKETS = {
  iterable: { api: 'api', listUsers: 'listUsers' },
  brevo: { contacts: 'contacts', other: 'other', files: 'files' },
  omnisend: { brand: 'brand', tags: 'tags' },
} as const;

/** Each provider's counters are exactly the names a connection may override (`RATE_COUNTER_NAMES`). */
type RateProfiles = { [P in ProviderName]: ProviderRateProfile & { counters: Record<RateCounterName<P>, RateLimit> } };

export const PROVIDER_RATE_PROFILES: RateProfiles = {
  iterable: {
    // List endpoints' limit is unconfirmed: the documented bulk-user limit, per project.
    // `GET /api/lists/getUsers` documents 5 requests/minute per project (not overridable).
    counters: { api: { limit: 5, windowMs: 1_000 }, listUsers: { limit: 5, windowMs: 60_000 } },
    buckets: { [BUCKETS.iterable.api]: ['api'], [BUCKETS.iterable.listUsers]: ['listUsers', 'api'] },
  },
  brevo: {
    counters: {
      contactsPerSecond: { limit: 10, windowMs: 1_000 },
      contactsPerHour: { limit: 36_000, windowMs: 3_600_000 },
      otherPerHour: { limit: 100, windowMs: 3_600_000 },
    },
    buckets: {
      [BUCKETS.brevo.contacts]: ['contactsPerSecond', 'contactsPerHour'],
      [BUCKETS.brevo.other]: ['otherPerHour'],
      [BUCKETS.brevo.files]: [],
    },
  },
  omnisend: {
    counters: { brand: { limit: 400, windowMs: 60_000 }, tags: { limit: 60, windowMs: 60_000 } },
    buckets: { [BUCKETS.omnisend.brand]: ['brand', 'batches'], [BUCKETS.omnisend.tags]: ['tags', 'brand'] },
    shares: { batches: { of: 'brand', leaving: 'tags' } },
  },
};

/** The counters a request in `bucket` draws from, with overrides applied and limits multiplied by `rateScale`. */
export function countersFor(
  provider: ProviderName,
  bucket: string,
  overrides: RateLimitOverrides | undefined,
  rateScale: number,
): Array<{ name: string } & RateLimit> {
  const profile = PROVIDER_RATE_PROFILES[provider];
  const names = profile.buckets[bucket];
  if (names === undefined) throw new Error(`Unknown rate bucket '${bucket}' for ${provider}`);
  const limitOf = (name: string): RateLimit | undefined => {
    const share = profile.shares?.[name];
    if (share) {
      const of = limitOf(share.of);
      const leaving = limitOf(share.leaving);
      if (!of || !leaving) return undefined;
      return { limit: Math.max(1, of.limit - (leaving.limit * of.windowMs) / leaving.windowMs), windowMs: of.windowMs };
    }
    return overrides?.[name] ?? profile.counters[name];
  };
  return names.map((name) => {
    const base = limitOf(name);
    if (base === undefined) throw new Error(`Unknown rate counter '${name}' for ${provider}`);
    return { name, limit: Math.max(1, Math.floor(base.limit * rateScale)), windowMs: base.windowMs };
  });
}
