import { existsSync, readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { connectionsCreate } from '../../../functions/connections-create';
import { connectionsDelete } from '../../../functions/connections-delete';
import { connectionsUpdate } from '../../../functions/connections-update';
import { getConnection } from '../../../src/connections/repository';
import { createTestContext, type TestContext } from '../../support/context';
import { ADMIN, invokeHttp } from '../../support/http';
import { allTableEntities, seedConnection } from './seed';

let context: TestContext;

beforeEach(async () => {
  context = await createTestContext();
});

const valid = {
  displayName: 'Newsletter',
  provider: 'brevo',
  apiKey: 'xkeysib-bad-input-test-key',
  acceptPrivacyTerms: true,
};

/** Nothing in any table, nothing in the secret store. */
function expectNothingStored(entities: unknown[]): void {
  expect(entities).toEqual([]);
  const file = context.config.localSecretsFile;
  if (existsSync(file)) expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ secrets: {} });
}

describe('POST /api/connections with bad input', () => {
  it.each([
    ['consent missing', { acceptPrivacyTerms: undefined }, 'consent_required', undefined],
    ['consent refused', { acceptPrivacyTerms: false }, 'consent_required', undefined],
    ['consent as a string', { acceptPrivacyTerms: 'true' }, 'consent_required', undefined],
    ['an unknown provider', { provider: 'mailchimp' }, 'validation_failed', 'provider'],
    ['an empty key', { apiKey: '' }, 'validation_failed', 'apiKey'],
    ['an oversized key', { apiKey: 'k'.repeat(1025) }, 'validation_failed', 'apiKey'],
    ['a missing key', { apiKey: undefined }, 'validation_failed', 'apiKey'],
    ['an empty display name', { displayName: '' }, 'validation_failed', 'displayName'],
    ['a blank display name', { displayName: '   ' }, 'validation_failed', 'displayName'],
    ['a display name of 257 characters', { displayName: 'd'.repeat(257) }, 'validation_failed', 'displayName'],
    ['an unknown field', { secretName: 'mine' }, 'validation_failed', '(body)'],
    ['a region for Brevo', { options: { region: 'eu' } }, 'validation_failed', 'options.region'],
    ['allowContributors as a string', { allowContributors: 'yes' }, 'validation_failed', 'allowContributors'],
  ])('answers 400 for %s and stores nothing', async (_what, change, code, path) => {
    const response = await invokeHttp(connectionsCreate, { principal: ADMIN, json: { ...valid, ...change } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code, message: expect.any(String) as string } });
    if (path) {
      const details = (response.body as { error: { details: { path: string }[] } }).error.details;
      expect(details.map((detail) => detail.path)).toContain(path);
    }
    expect(response.text).not.toContain('xkeysib-bad-input-test-key');
    expectNothingStored(await allTableEntities(context));
  });

  it('answers 400 invalid_json for a body that is not JSON, and 415 for another content type', async () => {
    const broken = await invokeHttp(connectionsCreate, { principal: ADMIN, body: '{"displayName":', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ error: { code: 'invalid_json' } });
    const form = await invokeHttp(connectionsCreate, { principal: ADMIN, body: 'displayName=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expectNothingStored(await allTableEntities(context));
  });
});

describe('PATCH /api/connections/{connectionId} with bad input', () => {
  it.each([
    ['an empty body', {}, 'validation_failed'],
    ['an unknown field', { provider: 'iterable' }, 'validation_failed'],
    ['an empty display name', { displayName: '' }, 'validation_failed'],
    ['a display name of 257 characters', { displayName: 'd'.repeat(257) }, 'validation_failed'],
    ['an empty key', { apiKey: '' }, 'validation_failed'],
    ['an oversized key', { apiKey: 'k'.repeat(1025) }, 'validation_failed'],
    ['a region for Brevo', { options: { region: 'eu' } }, 'validation_failed'],
  ])('answers 400 for %s and changes nothing', async (_what, body, code) => {
    const seeded = await seedConnection(context, { provider: 'brevo', apiKey: 'the-seeded-key' });
    const before = await getConnection(context, seeded.id);
    const response = await invokeHttp(connectionsUpdate, { principal: ADMIN, params: { connectionId: seeded.id }, json: body });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code } });
    expect(await getConnection(context, seeded.id)).toEqual(before);
    expect(await context.secrets.getSecret(seeded.secretName)).toBe('the-seeded-key');
  });
});

describe('DELETE /api/connections/{connectionId} with bad input', () => {
  it("answers 400 for a force that is not 'true' or 'false' and keeps the connection", async () => {
    const seeded = await seedConnection(context);
    const response = await invokeHttp(connectionsDelete, { principal: ADMIN, params: { connectionId: seeded.id }, query: { force: 'yes' } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'validation_failed' } });
    expect(await getConnection(context, seeded.id)).toBeDefined();
  });

  it('answers 404 for an id that cannot exist', async () => {
    const response = await invokeHttp(connectionsDelete, { principal: ADMIN, params: { connectionId: "x' or PartitionKey ne '" } });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: { code: 'not_found' } });
  });
});
