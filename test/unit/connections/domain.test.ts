import { describe, expect, it } from 'vitest';
import {
  createConnectionBodySchema,
  deleteConnectionQuerySchema,
  normaliseOptions,
  toPublicConnection,
  updateConnectionBodySchema,
  type Connection,
} from '../../../src/domain/connection';
import { secretNameFor } from '../../../src/connections/service';
import { freshSecretName, isValidSecretName, toSecretName } from '../../../src/secrets/secret-store';

const connection: Connection = {
  id: '6f1c3c1e-2d5b-4a7e-9a51-0d6f5e0b9a10',
  displayName: 'Marketing',
  provider: 'iterable',
  allowContributors: true,
  options: { region: 'eu' },
  secretName: 'connection-6f1c3c1e-2d5b-4a7e-9a51-0d6f5e0b9a10',
  secretVersion: 'a'.repeat(32),
  consent: { acceptedBy: 'ada@example.com', acceptedByUserId: 'oid-ada', acceptedAt: '2026-01-01T00:00:00.000Z' },
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 'oid-ada',
  updatedAt: '2026-01-01T00:00:00.000Z',
  updatedBy: 'oid-ada',
};

describe('connection request bodies', () => {
  const valid = { displayName: ' Marketing ', provider: 'brevo', apiKey: ' xkeysib-123 ', acceptPrivacyTerms: true };

  it('trims names and keys and fills the defaults', () => {
    expect(createConnectionBodySchema.parse(valid)).toEqual({
      displayName: 'Marketing',
      provider: 'brevo',
      apiKey: 'xkeysib-123',
      acceptPrivacyTerms: true,
      allowContributors: false,
      options: {},
    });
  });

  it.each([
    ['an unknown provider', { provider: 'mailchimp' }, 'provider'],
    ['an empty key', { apiKey: '   ' }, 'apiKey'],
    ['an oversized key', { apiKey: 'k'.repeat(1025) }, 'apiKey'],
    ['a key with a line break', { apiKey: 'abc\ndef' }, 'apiKey'],
    ['an empty display name', { displayName: '' }, 'displayName'],
    ['a display name of 257 characters', { displayName: 'n'.repeat(257) }, 'displayName'],
    ['an unknown field', { colour: 'blue' }, ''],
    ['an unknown region', { provider: 'iterable', options: { region: 'apac' } }, 'options.region'],
    ['a region for Brevo', { options: { region: 'eu' } }, 'options.region'],
    ['an unknown option', { options: { speed: 'fast' } }, 'options'],
  ])('refuses %s', (_what, change, path) => {
    const result = createConnectionBodySchema.safeParse({ ...valid, ...change });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toContain(path);
  });

  it('accepts a display name of exactly 256 characters', () => {
    expect(createConnectionBodySchema.safeParse({ ...valid, displayName: 'n'.repeat(256) }).success).toBe(true);
  });

  it('never quotes the key in a validation message', () => {
    const result = createConnectionBodySchema.safeParse({ ...valid, apiKey: `secret-${'x'.repeat(1100)}` });
    expect(JSON.stringify(result.error?.issues)).not.toContain('secret-');
  });

  it('needs at least one field in a PATCH and refuses the provider', () => {
    expect(updateConnectionBodySchema.safeParse({}).success).toBe(false);
    expect(updateConnectionBodySchema.safeParse({ provider: 'brevo' }).success).toBe(false);
    expect(updateConnectionBodySchema.parse({ allowContributors: false })).toEqual({ allowContributors: false });
  });

  it("reads force only as 'true' or 'false'", () => {
    expect(deleteConnectionQuerySchema.parse({ force: 'true' })).toEqual({ force: true });
    expect(deleteConnectionQuerySchema.parse({})).toEqual({ force: false });
    expect(deleteConnectionQuerySchema.safeParse({ force: 'yes' }).success).toBe(false);
  });
});

describe('the public resource', () => {
  it('never carries where the key is kept, and shows consent only when asked', () => {
    const forContributor = toPublicConnection(connection, { includeConsent: false });
    expect(Object.keys(forContributor).sort()).toEqual(
      ['allowContributors', 'createdAt', 'displayName', 'id', 'options', 'provider', 'updatedAt'].sort(),
    );
    const forAdmin = toPublicConnection(connection, { includeConsent: true });
    expect(forAdmin.consent).toEqual(connection.consent);
    expect(JSON.stringify(forAdmin)).not.toMatch(/secret|oid-ada.*createdBy/i);
  });

  it('gives Iterable its region (us by default) and the others none', () => {
    expect(normaliseOptions('iterable', {})).toEqual({ region: 'us' });
    expect(normaliseOptions('iterable', { region: 'eu' })).toEqual({ region: 'eu' });
    expect(normaliseOptions('omnisend', { region: 'eu' })).toEqual({});
  });
});

describe('secret names', () => {
  it('derives a valid Key Vault name from a connection id', () => {
    expect(secretNameFor(connection.id)).toBe(connection.secretName);
    expect(isValidSecretName(secretNameFor(connection.id))).toBe(true);
  });

  it('turns any text into a valid name within 127 characters', () => {
    for (const parts of [['9-lives'], ['a_b.c d'], ['x'.repeat(300)], ['--'], ['connection', 'é/ü']]) {
      const name = toSecretName(...parts);
      expect(isValidSecretName(name), name).toBe(true);
    }
  });

  it('makes fresh names that are valid and differ from the original', () => {
    const long = toSecretName('c'.repeat(127));
    const fresh = freshSecretName(long);
    expect(isValidSecretName(fresh)).toBe(true);
    expect(fresh).not.toBe(long);
    expect(freshSecretName('connection-a')).toMatch(/^connection-a-[0-9a-f]{8}$/);
  });
});
