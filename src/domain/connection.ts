import { z } from 'zod';
import { PROVIDER_NAMES, providerNameSchema, RATE_COUNTER_NAMES, rateLimitOverridesSchema, type ProviderName } from './provider';
import { listSchema } from './envelope';

/**
 * A connection: one provider account the app exports to. Its API key lives only in the secret
 * store; the connection knows the secret's name and version, never the value.
 */
export const connectionIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an id is 1-64 letters, digits, - or _');

export const MAX_DISPLAY_NAME_LENGTH = 256;
export const MAX_API_KEY_LENGTH = 1024;

export const ITERABLE_REGIONS = ['us', 'eu'] as const;
export const iterableRegionSchema = z.enum(ITERABLE_REGIONS);
export type IterableRegion = z.infer<typeof iterableRegionSchema>;
export const DEFAULT_ITERABLE_REGION: IterableRegion = 'us';

const displayNameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_DISPLAY_NAME_LENGTH, `must be at most ${MAX_DISPLAY_NAME_LENGTH} characters`);

/**
 * Keys go into HTTP headers: printable ASCII without spaces, which also keeps a pasted line break
 * or a stray quote from reaching the provider.
 */
const apiKeySchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_API_KEY_LENGTH, `must be at most ${MAX_API_KEY_LENGTH} characters`)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/**
 * `region`: Iterable's data centre. `rateLimits`: this account's own limits where they differ from
 * the documented defaults (a higher Brevo plan), by counter name, e.g.
 * `{ "contactsPerSecond": { "limit": 20, "windowMs": 1000 } }`.
 */
export const connectionOptionsSchema = z
  .object({ region: iterableRegionSchema.optional(), rateLimits: rateLimitOverridesSchema.optional() })
  .strict();
export type ConnectionOptions = z.infer<typeof connectionOptionsSchema>;

export const consentSchema = z.object({
  acceptedBy: z.string(),
  acceptedByUserId: z.string(),
  acceptedAt: z.string(),
});
export type Consent = z.infer<typeof consentSchema>;

/** A connection as the app keeps it (Table storage row + secret reference). */
export const connectionSchema = z.object({
  id: connectionIdSchema,
  displayName: z.string(),
  provider: providerNameSchema,
  allowContributors: z.boolean(),
  options: connectionOptionsSchema,
  secretName: z.string(),
  secretVersion: z.string(),
  consent: consentSchema,
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type Connection = z.infer<typeof connectionSchema>;

/** `POST /api/connections`. Consent is checked after the shape, to answer `consent_required`. */
export const createConnectionBodySchema = z
  .object({
    displayName: displayNameSchema,
    provider: z.enum(PROVIDER_NAMES, `must be one of ${PROVIDER_NAMES.join(', ')}`),
    apiKey: apiKeySchema,
    allowContributors: z.boolean().default(false),
    acceptPrivacyTerms: z
      .unknown()
      .optional()
      .describe("Must be `true`: the caller accepts the provider's data-privacy terms; anything else is answered 400 `consent_required`"),
    options: connectionOptionsSchema.default({}),
  })
  .strict()
  .superRefine((body, ctx) => checkOptions(body.provider, body.options, ctx));
export type CreateConnectionBody = z.infer<typeof createConnectionBodySchema>;

/** `PATCH /api/connections/{connectionId}`: a new `apiKey` rotates the key. */
export const updateConnectionBodySchema = z
  .object({
    displayName: displayNameSchema.optional(),
    allowContributors: z.boolean().optional(),
    apiKey: apiKeySchema.optional(),
    options: connectionOptionsSchema.optional(),
  })
  .strict()
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'name at least one field to change');
export type UpdateConnectionBody = z.infer<typeof updateConnectionBodySchema>;

export const deleteConnectionQuerySchema = z
  .object({
    force: z
      .enum(['true', 'false'], "must be 'true' or 'false'")
      .optional()
      .describe('`true` also deletes the exports that use the connection'),
  })
  .transform(({ force }) => ({ force: force === 'true' }));

/** What the API shows; `consent` only to Admins. Never the key or where it is kept. */
export const publicConnectionSchema = z.object({
  id: connectionIdSchema,
  displayName: z.string(),
  provider: providerNameSchema,
  allowContributors: z.boolean(),
  options: connectionOptionsSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  consent: consentSchema.optional().describe('Who accepted the data-privacy terms, and when; shown to Admins only'),
});
export type PublicConnection = z.infer<typeof publicConnectionSchema>;
export const connectionListSchema = listSchema(publicConnectionSchema);

export function toPublicConnection(connection: Connection, view: { includeConsent: boolean }): PublicConnection {
  const resource: PublicConnection = {
    id: connection.id,
    displayName: connection.displayName,
    provider: connection.provider,
    allowContributors: connection.allowContributors,
    options: { ...connection.options },
    createdAt: connection.createdAt,
    updatedAt: connection.updatedAt,
  };
  if (view.includeConsent) resource.consent = { ...connection.consent };
  return resource;
}

/** Options as stored: Iterable always names its region, the others have none. */
export function normaliseOptions(provider: ProviderName, options: ConnectionOptions): ConnectionOptions {
  const rateLimits = options.rateLimits && Object.keys(options.rateLimits).length > 0 ? { rateLimits: options.rateLimits } : {};
  return provider === 'iterable' ? { region: options.region ?? DEFAULT_ITERABLE_REGION, ...rateLimits } : rateLimits;
}

/** The region is Iterable's only: a key works in its own data centre. */
export function checkOptions(provider: ProviderName, options: ConnectionOptions | undefined, ctx: z.RefinementCtx): void {
  if (provider !== 'iterable' && options?.region !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['options', 'region'], message: 'applies to Iterable connections only' });
  }
  const counters: readonly string[] = RATE_COUNTER_NAMES[provider];
  for (const name of Object.keys(options?.rateLimits ?? {})) {
    if (!counters.includes(name)) {
      ctx.addIssue({ code: 'custom', path: ['options', 'rateLimits', name], message: `is not a rate limit of ${provider} (${counters.join(', ')})` });
    }
  }
}
