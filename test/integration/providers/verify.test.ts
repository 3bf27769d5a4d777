import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError, Errors } from '../../../src/errors';
import { createProviderAdapter, verifyProviderKey, isProviderErrorKind, PROVIDER_NAMES, type ProviderName } from '../../../src/providers';
import { startEmulators, type Emulators } from '../../../dev/emulators';

let emulators: Emulators;

beforeAll(async () => {
  emulators = await startEmulators();
});

afterAll(async () => {
  await emulators?.close();
});

const baseUrl = (provider: ProviderName) => emulators[provider].baseUrl;

describe.each(PROVIDER_NAMES)('verifying a %s key', (provider) => {
  it('resolves when the provider accepts the key', async () => {
    await expect(verifyProviderKey({ provider, apiKey: emulators[provider].apiKeys[0]!, baseUrl: baseUrl(provider) })).resolves.toBeUndefined();
  });

  it('throws provider_auth_failed for a wrong key, once, without echoing the key', async () => {
    const before = emulators[provider].requests.counts.total;
    const error: unknown = await verifyProviderKey({ provider, apiKey: 'wrong-key-1234567', baseUrl: baseUrl(provider) }).catch((e: unknown) => e);
    expect(isAppError(error, Errors.providerAuthFailed)).toBe(true);
    expect(isAppError(error) && error.status).toBe(422);
    expect(JSON.stringify(error)).not.toContain('wrong-key-1234567');
    expect(String((error as Error).message)).not.toContain('wrong-key-1234567');
    expect(emulators[provider].requests.counts.total - before).toBe(1);
  });

  it('classifies the raw adapter error as auth', async () => {
    const adapter = createProviderAdapter({ provider, apiKey: 'another-wrong-key', baseUrl: baseUrl(provider) });
    const error: unknown = await adapter.verifyCredentials().catch((e: unknown) => e);
    expect(isProviderErrorKind(error, 'auth')).toBe(true);
  });
});

it('says provider_unavailable when nothing listens', async () => {
  const error: unknown = await verifyProviderKey(
    { provider: 'iterable', apiKey: 'k', baseUrl: 'http://127.0.0.1:9', http: { retry: { maxRetries: 1, baseDelayMs: 1 } } },
  ).catch((e: unknown) => e);
  expect(isAppError(error, Errors.providerUnavailable)).toBe(true);
});
