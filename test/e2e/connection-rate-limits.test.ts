import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => {
  await app?.close();
});

describe('per-connection rate limits', () => {
  it('stores a higher plan limit named by the provider counter', async () => {
    const created = await app.api<{ id: string; options: unknown }>('POST', 'connections', {
      json: {
        displayName: 'Brevo enterprise',
        provider: 'brevo',
        apiKey: app.emulators.brevo.apiKeys[0],
        acceptPrivacyTerms: true,
        options: { rateLimits: { contactsPerSecond: { limit: 20, windowMs: 1000 } } },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.options).toEqual({ rateLimits: { contactsPerSecond: { limit: 20, windowMs: 1000 } } });

    const patched = await app.api<{ options: unknown }>('PATCH', `connections/${created.body.id}`, {
      json: { options: { rateLimits: { contactsPerSecond: { limit: 60, windowMs: 1000 } } } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.options).toEqual({ rateLimits: { contactsPerSecond: { limit: 60, windowMs: 1000 } } });
  });

  it('refuses a counter the provider does not have, and changes nothing', async () => {
    const before = await app.api<{ items: unknown[] }>('GET', 'connections');
    const refused = await app.api<{ error: { code: string; details: { path: string }[] } }>('POST', 'connections', {
      json: {
        displayName: 'Iterable',
        provider: 'iterable',
        apiKey: app.emulators.iterable.apiKeys[0],
        acceptPrivacyTerms: true,
        options: { rateLimits: { tags: { limit: 100, windowMs: 60_000 } } },
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'options.rateLimits.tags' })]);
    const after = await app.api<{ items: unknown[] }>('GET', 'connections');
    expect(after.body.items).toHaveLength(before.body.items.length);
  });
});
