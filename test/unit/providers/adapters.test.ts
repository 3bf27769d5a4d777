import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError, Errors } from '../../../src/errors';
import { createProviderAdapter, type ChunkOperation, type DeliveryState } from '../../../src/providers';
import { isAlreadyRemoved, parseEmailCsv } from '../../../src/providers/brevo/adapter';
import { encodeSubscriber } from '../../../src/providers/iterable/adapter';
import { encodeContact } from '../../../src/providers/omnisend/adapter';

describe('Iterable encoding', () => {
  it('maps fields to Iterable data fields and leaves dataFields out when there are none', () => {
    expect(encodeSubscriber({ email: 'a@b.co', fields: { phone: '+1', countryRegion: 'US', address: '1 Main' } })).toEqual({
      email: 'a@b.co',
      dataFields: { phoneNumber: '+1', country: 'US', address: '1 Main' },
    });
    expect(encodeSubscriber({ email: 'a@b.co', fields: {} })).toEqual({ email: 'a@b.co' });
  });

  it('uses the EU host for an EU connection unless a base URL is set', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    agent.get('https://api.eu.iterable.com').intercept({ path: '/api/lists', method: 'GET' }).reply(200, { lists: [] });
    try {
      await createProviderAdapter({ provider: 'iterable', apiKey: 'k', region: 'eu', http: { dispatcher: agent } }).verifyCredentials();
    } finally {
      await agent.close();
    }
  });
});

describe('Omnisend encoding', () => {
  const fields = { firstName: 'Ann', countryRegion: 'gb', phone: '+44' };

  it('sends a status only for a new member that Omnisend does not have, with the welcome message off', () => {
    const contact = encodeContact({ email: 'a@b.co', fields, isNew: true, knownToProvider: false });
    expect(contact).toEqual({
      identifiers: [
        { type: 'email', id: 'a@b.co', channels: { email: { status: 'nonSubscribed' } }, sendWelcomeMessage: false },
        // A phone number is an identifier in API 2026-03-15, never a contact field.
        { type: 'phone', id: '+44', channels: { sms: { status: 'nonSubscribed' } }, sendWelcomeMessage: false },
      ],
      firstName: 'Ann',
      countryCode: 'GB',
    });
    expect(contact).not.toHaveProperty('phone');
    expect(contact).not.toHaveProperty('tags');
  });

  it.each([
    ['a new member Omnisend already has', { isNew: true, knownToProvider: true }],
    ['a new member nobody asked Omnisend about', { isNew: true }],
    ['an update', { isNew: false }],
    ['an update Omnisend reported unknown', { isNew: false, knownToProvider: false }],
    ['an update of a contact Omnisend has', { isNew: false, knownToProvider: true }],
  ])('never sends a status for %s (an upsert would overwrite it)', (_case, flags) => {
    expect(encodeContact({ email: 'a@b.co', fields, ...flags })).toEqual({
      identifiers: [
        { type: 'email', id: 'a@b.co', sendWelcomeMessage: false },
        { type: 'phone', id: '+44', sendWelcomeMessage: false },
      ],
      firstName: 'Ann',
      countryCode: 'GB',
    });
  });

  it('sends a country that is not a two-letter code as the country name', () => {
    expect(encodeContact({ email: 'a@b.co', fields: { countryRegion: 'United Kingdom' }, isNew: false })).toMatchObject({ country: 'United Kingdom' });
  });
});

describe('Brevo', () => {
  it('reads the invalid-email CSV: a header, then one email per line, quoted or not', () => {
    expect(parseEmailCsv('email\r\nbad@x\r\n"quoted@x"\n\n')).toEqual(['bad@x', 'quoted@x']);
    expect(parseEmailCsv('')).toEqual([]);
    expect(parseEmailCsv('no-header@x\nsecond@x')).toEqual(['no-header@x', 'second@x']);
  });

  it('knows "already removed" and a deleted list from other refusals', () => {
    expect(isAlreadyRemoved(400, { code: 'invalid_parameter', message: 'Contact already in list and/or does not exist' })).toBe(true);
    expect(isAlreadyRemoved(404, { code: 'document_not_found', message: 'List ID does not exist' })).toBe(true);
    expect(isAlreadyRemoved(400, { code: 'invalid_parameter', message: 'emails should be an array' })).toBe(false);
    expect(isAlreadyRemoved(400, 'oops')).toBe(false);
  });

  it('refuses attribute names Brevo would not accept, naming each', () => {
    let error: unknown;
    try {
      createProviderAdapter({ provider: 'brevo', apiKey: 'k', brevoAttributes: { firstName: 'first name', city: 'ville' } });
    } catch (caught) {
      error = caught;
    }
    expect(isAppError(error, Errors.validationFailed)).toBe(true);
    expect(JSON.stringify((error as { details: unknown }).details)).toContain("firstName: 'first name'");
    expect(JSON.stringify((error as { details: unknown }).details)).toContain("city: 'ville'");
  });
});

describe('the Omnisend batch state machine', () => {
  let agent: MockAgent;
  const origin = 'https://omnisend.test';

  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
  });

  afterEach(async () => {
    await agent.close();
  });

  const adapter = () =>
    createProviderAdapter({ provider: 'omnisend', apiKey: 'k', baseUrl: `${origin}/api`, timing: { omnisendBatchPollMs: 1 }, http: { dispatcher: agent } });

  async function deliver(operation: ChunkOperation) {
    const omnisend = adapter();
    let state: DeliveryState = omnisend.start(operation);
    for (let steps = 0; steps < 50; steps += 1) {
      const result = await omnisend.step(operation, state);
      if (result.kind === 'done') return result.rejects;
      state = result.state;
    }
    throw new Error('the delivery did not finish');
  }

  it('rejects the records of a batch that stays stopped after being posted again three times', async () => {
    const pool = agent.get(origin);
    pool.intercept({ path: '/api/batches', method: 'POST' }).reply(201, { batchID: 'b1' }).times(4);
    pool.intercept({ path: '/api/batches/b1', method: 'GET' }).reply(200, { status: 'stopped', errorsCount: 0 }).times(4);
    pool.intercept({ path: '/api/batches/b1/items', method: 'GET' }).reply(200, {
      responses: [{ itemID: '1', responseCode: 201, request: { identifiers: [{ type: 'email', id: 'done@x.co' }] }, response: { email: 'done@x.co' } }],
      errors: [],
    });
    let tagged: unknown;
    pool.intercept({ path: '/api/contacts/tags', method: 'POST' }).reply((request) => {
      tagged = JSON.parse(request.body as string);
      return { statusCode: 202, data: '' };
    });
    const rejects = await deliver({
      kind: 'upsert',
      target: { provider: 'omnisend', tag: 't' },
      records: ['done@x.co', 'lost@x.co'].map((email) => ({ email, fields: {}, isNew: true })),
    });
    expect(rejects).toEqual([{ email: 'lost@x.co', code: 'provider_rejected', reason: 'Omnisend stopped the batch before processing this contact' }]);
    expect(tagged).toEqual({ tags: ['t'], emails: ['done@x.co'] });
  });

  it('does not call the tag endpoint when no record is new', async () => {
    const pool = agent.get(origin);
    pool.intercept({ path: '/api/batches', method: 'POST' }).reply(201, { batchID: 'b2' });
    pool.intercept({ path: '/api/batches/b2', method: 'GET' }).reply(200, { status: 'pending' });
    pool.intercept({ path: '/api/batches/b2', method: 'GET' }).reply(200, { status: 'finished', errorsCount: 0 });
    const rejects = await deliver({
      kind: 'upsert',
      target: { provider: 'omnisend', tag: 't' },
      records: [{ email: 'old@x.co', fields: { firstName: 'New name' }, isNew: false }],
    });
    expect(rejects).toEqual([]);
    agent.assertNoPendingInterceptors();
  });
});

describe('reading target members from answers the emulators do not give', () => {
  let agent: MockAgent;
  const origin = 'https://provider.test';

  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
  });

  afterEach(async () => {
    await agent.close();
  });

  it('Iterable: keeps the emails of a userId-based project and skips its userIds, blank lines and CRLFs', async () => {
    agent.get(origin).intercept({ path: '/api/lists/getUsers?listId=7', method: 'GET' }).reply(200, 'a@x.co\r\nuser-123\n\n B@X.co \n', {
      headers: { 'content-type': 'text/plain' },
    });
    const iterable = createProviderAdapter({ provider: 'iterable', apiKey: 'k', baseUrl: origin, http: { dispatcher: agent } });
    expect(await iterable.readTargetMembers({ provider: 'iterable', listId: 7, listName: 'l' }, undefined)).toEqual({ emails: ['a@x.co', 'b@x.co'] });
  });

  it('Omnisend: refuses a page that says there is more without a cursor, and skips contacts without an email', async () => {
    const pool = agent.get(origin);
    pool.intercept({ path: '/api/contacts?tag=t&limit=250', method: 'GET' }).reply(200, {
      contacts: [{ email: 'A@x.co' }, { phone: ['+1555'] }],
      paging: { cursors: { after: null, before: null }, hasMore: true, limit: 250 },
    });
    pool.intercept({ path: '/api/contacts?tag=t&limit=250', method: 'GET' }).reply(200, {
      contacts: [{ email: 'A@x.co' }, { email: null }],
      paging: { cursors: { after: 'still-there', before: null }, hasMore: false, limit: 250 },
    });
    const omnisend = createProviderAdapter({ provider: 'omnisend', apiKey: 'k', baseUrl: `${origin}/api`, http: { dispatcher: agent } });
    const target = { provider: 'omnisend', tag: 't' } as const;
    await expect(omnisend.readTargetMembers(target, undefined)).rejects.toMatchObject({ kind: 'permanent', providerCode: 'unexpected_response' });
    expect(await omnisend.readTargetMembers(target, undefined)).toEqual({ emails: ['a@x.co'] });
  });

  it('Brevo: ends at the count even when the last page is full, and skips contacts without an email', async () => {
    agent.get(origin).intercept({ path: '/v3/contacts/lists/5/contacts?limit=500&offset=500&sort=asc', method: 'GET' }).reply(200, {
      contacts: Array.from({ length: 500 }, (_, i) => (i === 0 ? { id: 1, email: null } : { id: i + 1, email: `P${i}@x.co` })),
      count: 1_000,
    });
    const brevo = createProviderAdapter({ provider: 'brevo', apiKey: 'k', baseUrl: `${origin}/v3`, http: { dispatcher: agent } });
    const page = await brevo.readTargetMembers({ provider: 'brevo', listId: 5 }, '500');
    expect(page.cursor).toBeUndefined();
    expect(page.emails).toHaveLength(499);
    expect(page.emails[0]).toBe('p1@x.co');
  });
});
