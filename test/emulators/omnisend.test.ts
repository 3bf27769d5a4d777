import { afterEach, describe, expect, it } from 'vitest';
import { startOmnisendEmulator, type OmnisendEmulator, type OmnisendEmulatorOptions } from '../../dev/emulators/omnisend';
import { call, field } from './test-http';

const KEY = 'omnisend-test-key';
const VERSION = '2026-03-15';
let emulator: OmnisendEmulator | undefined;

async function start(options: OmnisendEmulatorOptions = {}): Promise<OmnisendEmulator> {
  emulator = await startOmnisendEmulator({ apiKeys: [KEY], asyncDelayMs: 20, ...options });
  return emulator;
}

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function api(target: OmnisendEmulator, method: string, path: string, json?: unknown, headers: Record<string, string> = {}) {
  return call(`${target.baseUrl}${path}`, method, {
    headers: { Authorization: `Omnisend-API-Key ${KEY}`, 'Omnisend-Version': VERSION, ...headers },
    json,
  });
}

function contact(email: string, fields: Record<string, unknown> = {}) {
  return {
    identifiers: [{ type: 'email', id: email, channels: { email: { status: 'nonSubscribed' } }, sendWelcomeMessage: false }],
    ...fields,
  };
}

function postBatch(target: OmnisendEmulator, items: unknown[]) {
  return api(target, 'POST', '/batches', { method: 'POST', endpoint: 'contacts', items });
}

/** Published problem types are Omnisend's; the others are RFC 9457's `about:blank`, not invented. */
const problemOf = (type: string, status: number) => ({
  type: ['not-found', 'validation-failed', 'rate-limit-exceeded'].includes(type) ? `https://problems.omnisend.com/${type}` : 'about:blank',
  title: expect.any(String) as string,
  status,
  detail: expect.any(String) as string,
  instance: expect.stringMatching(/^urn:omnisend:request:/) as string,
});

describe('Omnisend emulator: headers and authentication', () => {
  it('serves a base URL ending in /api and a cheap authenticated GET /contacts', async () => {
    const omnisend = await start();
    expect(omnisend.baseUrl).toBe(`${omnisend.origin}/api`);
    const result = await api(omnisend, 'GET', '/contacts?limit=1');
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ contacts: [], paging: { cursors: { after: null, before: null }, hasMore: false, limit: 1 } });
  });

  it('answers 400 without Omnisend-Version and 410 for another version, as problems', async () => {
    const omnisend = await start();
    const missing = await call(`${omnisend.baseUrl}/contacts`, 'GET', { headers: { Authorization: `Omnisend-API-Key ${KEY}` } });
    expect(missing.status).toBe(400);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(missing.body).toEqual(problemOf('version-required', 400));
    const retired = await api(omnisend, 'GET', '/contacts', undefined, { 'Omnisend-Version': '2024-01-01' });
    expect(retired.status).toBe(410);
    expect(retired.body).toEqual({ ...problemOf('version-retired', 410), title: 'API version has been retired' });
    expect((await api(omnisend, 'GET', '/contacts', undefined, { 'Omnisend-Version': '2026-preview' })).status).toBe(410);
    // As documented, a date between releases resolves to the nearest earlier supported version.
    expect((await api(omnisend, 'GET', '/contacts', undefined, { 'Omnisend-Version': '2026-06-01' })).status).toBe(200);
  });

  it('answers 401 to a missing, malformed or wrong key', async () => {
    const omnisend = await start();
    for (const authorization of [undefined, KEY, 'Omnisend-API-Key wrong']) {
      const headers: Record<string, string> = { 'Omnisend-Version': VERSION };
      if (authorization) headers.Authorization = authorization;
      const result = await call(`${omnisend.baseUrl}/contacts`, 'GET', { headers });
      expect(result.status).toBe(401);
      expect(result.body).toEqual(problemOf('unauthorized', 401));
    }
  });
});

describe('Omnisend emulator: batches', () => {
  it('accepts a batch with 201, finishes it after the delay and reports invalid emails as 400 items', async () => {
    const omnisend = await start({ asyncDelayMs: 200 });
    const created = await postBatch(omnisend, [
      contact('Ann@Example.com', { firstName: 'Ann', countryCode: 'GB' }),
      contact('bad@example.invalid'),
      contact('bob@example.com'),
    ]);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ batchID: expect.stringMatching(/^[0-9a-f]{24}$/) as string, totalCount: 3 });
    const batchID = field<string>(created, 'batchID');
    const early = await api(omnisend, 'GET', `/batches/${batchID}`);
    expect(['pending', 'inProgress']).toContain(field<string>(early, 'status'));
    expect(omnisend.state.contacts.size).toBe(0);

    await omnisend.settled();
    const done = await api(omnisend, 'GET', `/batches/${batchID}`);
    expect(done.body).toMatchObject({ batchID, status: 'finished', totalCount: 3, finishedCount: 3, errorsCount: 1 });
    const items = await api(omnisend, 'GET', `/batches/${batchID}/items`);
    const body = items.body as { responses: Array<{ responseCode: number }>; errors: unknown[] };
    expect(body.responses.map((item) => item.responseCode)).toEqual([201, 400, 201]);
    expect(body.errors).toEqual([
      {
        itemID: expect.any(String) as string,
        status: 'finished',
        responseCode: 400,
        request: contact('bad@example.invalid'),
        response: expect.objectContaining({
          status: 400,
          errors: [{ field: 'identifiers[0].id', code: 'invalid_format', message: 'Must be a valid email address' }],
        }) as object,
      },
    ]);
    expect(omnisend.contact('ann@example.com')).toMatchObject({ status: 'nonSubscribed', firstName: 'Ann', countryCode: 'GB' });
    expect(omnisend.state.counters).toMatchObject({ welcomeMessages: 0, statusChanges: 0, subscribedContacts: 0, created: 2 });
  });

  it('answers 200 items for updates and counts a changed status of an existing contact', async () => {
    const omnisend = await start();
    await postBatch(omnisend, [contact('a@example.com')]);
    await omnisend.settled();
    const subscribed = contact('a@example.com');
    subscribed.identifiers[0]!.channels.email.status = 'subscribed';
    const batchID = field<string>(await postBatch(omnisend, [subscribed]), 'batchID');
    await omnisend.settled();
    const items = await api(omnisend, 'GET', `/batches/${batchID}/items`);
    expect((items.body as { responses: Array<{ responseCode: number }> }).responses[0]?.responseCode).toBe(200);
    expect(omnisend.state.counters.statusChanges).toBe(1);
  });

  it('refuses a channel without its status, an identifier without a welcome flag, tags, or a phone field (contract)', async () => {
    const omnisend = await start();
    const noStatus = { identifiers: [{ type: 'email', id: 'a@example.com', channels: { email: {} }, sendWelcomeMessage: false }] };
    const noWelcome = { identifiers: [{ type: 'email', id: 'b@example.com', channels: { email: { status: 'nonSubscribed' } } }] };
    const result = await postBatch(omnisend, [noStatus, noWelcome, contact('c@example.com', { tags: ['vip'] }), contact('d@example.com', { phone: '+1555' })]);
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject(problemOf('validation-failed', 400));
    const fields = (result.body as { errors: Array<{ field: string }> }).errors.map((error) => error.field);
    expect(fields).toEqual([
      'items[0].identifiers[0].channels.email.status',
      'items[1].identifiers[0].sendWelcomeMessage',
      'items[2].tags',
      'items[3].phone',
    ]);
    expect(omnisend.state.batches.size).toBe(0);
  });

  it('shows what Omnisend does with defaults when the contract is off: subscribed, with a welcome message', async () => {
    const omnisend = await start({ strictContract: false });
    await postBatch(omnisend, [{ identifiers: [{ type: 'email', id: 'a@example.com' }] }]);
    await omnisend.settled();
    expect(omnisend.contact('a@example.com')).toMatchObject({ status: 'subscribed' });
    expect(omnisend.state.counters).toMatchObject({ welcomeMessages: 1, subscribedContacts: 1 });
  });

  it('refuses more than 100 items, other endpoints and methods', async () => {
    const omnisend = await start();
    const items = Array.from({ length: 101 }, (_, index) => contact(`m${index}@example.com`));
    expect((await postBatch(omnisend, items)).status).toBe(400);
    const products = await api(omnisend, 'POST', '/batches', { method: 'PUT', endpoint: 'products', items: [{}] });
    expect(products.status).toBe(400);
    expect((products.body as { errors: Array<{ field: string }> }).errors.map((error) => error.field)).toEqual(['method', 'endpoint']);
  });

  it('ends a batch stopped, applying nothing, with asyncFailureShare; unknown batches are 404', async () => {
    const omnisend = await start({ faults: { asyncFailureShare: 1 } });
    const batchID = field<string>(await postBatch(omnisend, [contact('a@example.com')]), 'batchID');
    await omnisend.settled();
    expect((await api(omnisend, 'GET', `/batches/${batchID}`)).body).toMatchObject({ status: 'stopped', finishedCount: 0 });
    expect(omnisend.state.contacts.size).toBe(0);
    const unknown = await api(omnisend, 'GET', '/batches/000000000000000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual(problemOf('not-found', 404));
  });

  it('forgets the oldest finished batches beyond maxRetainedBatches', async () => {
    const omnisend = await start({ maxRetainedBatches: 2 });
    for (const email of ['a@example.com', 'b@example.com']) await postBatch(omnisend, [contact(email)]);
    await omnisend.settled();
    await postBatch(omnisend, [contact('c@example.com')]);
    expect(omnisend.state.batches.size).toBe(2);
  });
});

describe('Omnisend emulator: phones, batch lookup and tag names', () => {
  it('refuses a contact whose phone is not E.164 and ignores a phone another contact holds', async () => {
    const omnisend = await start({ asyncDelayMs: 10 });
    const phone = (id: string) => ({ type: 'phone', id, channels: { sms: { status: 'nonSubscribed' } }, sendWelcomeMessage: false });
    const withPhone = (email: string, id: string) => ({ ...contact(email), identifiers: [...(contact(email) as { identifiers: unknown[] }).identifiers, phone(id)] });
    expect((await postBatch(omnisend, [withPhone('a@example.com', '06 12 34 56 78')])).status).toBe(400);
    expect((await postBatch(omnisend, [withPhone('a@example.com', '+33612345678')])).status).toBe(201);
    expect((await postBatch(omnisend, [withPhone('b@example.com', '+33612345678')])).status).toBe(201);
    await omnisend.settled();
    expect(omnisend.phoneOwner('+33612345678')).toBe('a@example.com');
    expect(omnisend.state.counters.ignoredPhones).toBe(1);
    expect(omnisend.state.contacts.has('b@example.com')).toBe(true);
  });

  it('lists contact batches newest first with GET /batches?endpoint=contacts', async () => {
    const omnisend = await start();
    const first = await postBatch(omnisend, [contact('a@example.com')]);
    const second = await postBatch(omnisend, [contact('b@example.com'), contact('c@example.com')]);
    const listed = await api(omnisend, 'GET', '/batches?endpoint=contacts&limit=250');
    expect(listed.status).toBe(200);
    const batches = (listed.body as { batches: Array<{ batchID: string; totalCount: number; createdAt: string }> }).batches;
    expect(batches.map((batch) => [batch.batchID, batch.totalCount])).toEqual([
      [(second.body as { batchID: string }).batchID, 2],
      [(first.body as { batchID: string }).batchID, 1],
    ]);
    expect((await api(omnisend, 'GET', '/batches?limit=251')).status).toBe(400);
  });

  it('refuses tag names outside the alphabet of Omnisend\'s SDK (contract)', async () => {
    const omnisend = await start();
    const refused = await api(omnisend, 'POST', '/contacts/tags', { tags: ['Café & Bar'], emails: ['a@example.com'] });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject(problemOf('validation-failed', 400));
    expect((await api(omnisend, 'POST', '/contacts/tags', { tags: ['Cafe - Bar_2'], emails: ['a@example.com'] })).status).toBe(202);
  });
});

describe('Omnisend emulator: tags', () => {
  async function withContacts(omnisend: OmnisendEmulator, emails: string[]) {
    await postBatch(omnisend, emails.map((email) => contact(email)));
    await omnisend.settled();
  }

  it('adds and removes a tag with 202 and no body, ignoring unknown emails', async () => {
    const omnisend = await start();
    await withContacts(omnisend, ['a@example.com', 'b@example.com']);
    const added = await api(omnisend, 'POST', '/contacts/tags', { tags: ['vip'], emails: ['a@example.com', 'B@example.com', 'ghost@example.com'] });
    expect(added.status).toBe(202);
    expect(added.text).toBe('');
    // Tagging is asynchronous: nothing has changed yet when the 202 arrives.
    expect(omnisend.tagMembers('vip')).toEqual([]);
    await omnisend.settled();
    expect(omnisend.tagMembers('vip').sort()).toEqual(['a@example.com', 'b@example.com']);
    expect(omnisend.state.counters.ignoredTagEmails).toBe(1);
    // Newest first: b was created after a.
    const tagged = await api(omnisend, 'GET', '/contacts?tag=vip&limit=1');
    expect(tagged.body).toMatchObject({ contacts: [{ email: 'b@example.com', tags: ['vip'] }], paging: { hasMore: true } });

    const removed = await api(omnisend, 'DELETE', '/contacts/tags', { tags: ['vip'], emails: ['a@example.com'] });
    expect(removed.status).toBe(202);
    await omnisend.settled();
    expect(omnisend.tagMembers('vip')).toEqual(['b@example.com']);
    expect(omnisend.state.contacts.has('a@example.com')).toBe(true);
  });

  it('refuses more than 250 emails and selectors other than emails', async () => {
    const omnisend = await start();
    const emails = Array.from({ length: 251 }, (_, index) => `m${index}@example.com`);
    expect((await api(omnisend, 'POST', '/contacts/tags', { tags: ['vip'], emails })).status).toBe(400);
    const bySegment = await api(omnisend, 'POST', '/contacts/tags', { tags: ['vip'], emails: ['a@example.com'], segmentID: 'abc' });
    expect(bySegment.status).toBe(400);
    expect(bySegment.body).toMatchObject({ errors: [{ field: 'segmentID' }] });
  });
});

describe('Omnisend emulator: rate limits', () => {
  it('answers 429 rate-limit-exceeded with retryAfter and no headers when the brand bucket is used up', async () => {
    const omnisend = await start({ brandRateLimit: { requests: 2, windowMs: 60_000 } });
    await api(omnisend, 'GET', '/contacts?limit=1');
    await api(omnisend, 'GET', '/contacts?limit=1');
    const throttled = await api(omnisend, 'GET', '/contacts?limit=1');
    expect(throttled.status).toBe(429);
    expect(throttled.body).toEqual({ ...problemOf('rate-limit-exceeded', 429), retryAfter: expect.any(Number) as number });
    const retryAfter = (throttled.body as { retryAfter: number }).retryAfter;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(throttled.headers.get('retry-after')).toBeNull();
    expect([...throttled.headers.keys()].filter((name) => name.includes('ratelimit'))).toEqual([]);
  });

  it('limits /contacts/tags on its own bucket, inside the brand bucket', async () => {
    const omnisend = await start({ tagsRateLimit: { requests: 1, windowMs: 60_000 }, retryAfterInProblem: false });
    const body = { tags: ['vip'], emails: ['a@example.com'] };
    expect((await api(omnisend, 'POST', '/contacts/tags', body)).status).toBe(202);
    const throttled = await api(omnisend, 'POST', '/contacts/tags', body);
    expect(throttled.status).toBe(429);
    expect(throttled.body).not.toHaveProperty('retryAfter');
    expect((await api(omnisend, 'GET', '/contacts')).status).toBe(200);
    expect(omnisend.rates.stats('brand')).toMatchObject({ requests: 3, throttled: 1 });
    expect(omnisend.rates.maxRequestsInAnyWindow('tags', 60_000, { includeThrottled: false })).toBe(1);
  });
});

describe('Omnisend emulator: subscription statuses', () => {
  const identifiers = (email: string, phone: string | undefined, status?: string) => [
    { type: 'email', id: email, ...(status ? { channels: { email: { status } } } : {}), sendWelcomeMessage: false },
    ...(phone ? [{ type: 'phone', id: phone, ...(status ? { channels: { sms: { status } } } : {}), sendWelcomeMessage: false }] : []),
  ];

  it("overwrites an existing contact's email and SMS status when an upsert names one (the unsafe default)", async () => {
    const omnisend = await start();
    omnisend.seedContacts([{ email: 'Fan@Example.com', status: 'subscribed', phone: '+15550001111', tags: ['shop'] }]);
    await postBatch(omnisend, [{ identifiers: identifiers('fan@example.com', '+15550001111', 'nonSubscribed') }]);
    await omnisend.settled();
    expect(omnisend.contactStatuses('fan@example.com')).toEqual({ email: 'nonSubscribed', phone: '+15550001111', sms: 'nonSubscribed' });
    expect(omnisend.state.counters).toMatchObject({ statusChanges: 1, updated: 1, created: 0 });
  });

  it('keeps the statuses of an existing contact when the upsert names none, and with upsertOverwritesStatus off', async () => {
    for (const options of [{}, { upsertOverwritesStatus: false }]) {
      const omnisend = await start(options);
      omnisend.seedContacts([{ email: 'fan@example.com', status: 'unsubscribed', phone: '+15550001111', smsStatus: 'subscribed' }]);
      const named = 'upsertOverwritesStatus' in options ? 'nonSubscribed' : undefined;
      await postBatch(omnisend, [{ identifiers: identifiers('fan@example.com', '+15550001111', named), firstName: 'Fay' }]);
      await omnisend.settled();
      expect(omnisend.contactStatuses('fan@example.com')).toEqual({ email: 'unsubscribed', phone: '+15550001111', sms: 'subscribed' });
      expect(omnisend.contact('fan@example.com')).toMatchObject({ firstName: 'Fay' });
      expect(omnisend.state.counters.statusChanges).toBe(0);
      await omnisend.close();
    }
  });

  it('creates a contact sent without channels subscribed, email and SMS, unless newContactStatus says otherwise', async () => {
    const omnisend = await start();
    await postBatch(omnisend, [{ identifiers: identifiers('new@example.com', '+15550002222') }, { identifiers: identifiers('named@example.com', '+15550003333', 'nonSubscribed') }]);
    await omnisend.settled();
    expect(omnisend.contactStatuses('new@example.com')).toEqual({ email: 'subscribed', phone: '+15550002222', sms: 'subscribed' });
    expect(omnisend.contactStatuses('named@example.com')).toEqual({ email: 'nonSubscribed', phone: '+15550003333', sms: 'nonSubscribed' });
    expect(omnisend.state.counters).toMatchObject({ created: 2, subscribedContacts: 1, defaultedStatuses: 2, welcomeMessages: 0 });
    await omnisend.close();

    const safe = await start({ newContactStatus: 'nonSubscribed' });
    await postBatch(safe, [{ identifiers: identifiers('new@example.com', undefined) }]);
    await safe.settled();
    expect(safe.contactStatuses('new@example.com')).toEqual({ email: 'nonSubscribed' });
  });

  it('ignores a phone that another contact owns, and refuses to seed a contact twice', async () => {
    const omnisend = await start();
    omnisend.seedContacts([{ email: 'owner@example.com', status: 'subscribed', phone: '+15550004444' }]);
    await postBatch(omnisend, [{ identifiers: identifiers('other@example.com', '+15550004444', 'nonSubscribed') }]);
    await omnisend.settled();
    expect(omnisend.contactStatuses('other@example.com')).toEqual({ email: 'nonSubscribed' });
    expect(omnisend.contactStatuses('owner@example.com')).toEqual({ email: 'subscribed', phone: '+15550004444', sms: 'subscribed' });
    expect(() => omnisend.seedContacts([{ email: 'OWNER@example.com', status: 'nonSubscribed' }])).toThrow(/already exists/);
  });
});

describe('Omnisend emulator: listing contacts', () => {
  const emails = (result: { body: unknown }) => (result.body as { contacts: Array<{ email: string }> }).contacts.map((item) => item.email);
  const paging = (result: { body: unknown }) =>
    (result.body as { paging: { cursors: { after: string | null; before: string | null }; hasMore: boolean; limit: number } }).paging;

  async function seeded(count: number, options: OmnisendEmulatorOptions = {}) {
    const omnisend = await start(options);
    omnisend.seedContacts(
      Array.from({ length: count }, (_, i) => ({
        email: `c${i}@example.com`,
        status: i % 3 === 0 ? ('subscribed' as const) : ('nonSubscribed' as const),
        ...(i === 4 ? { phone: '+15550009999' } : {}),
        ...(i % 2 === 0 ? { tags: ['even'] } : {}),
      })),
    );
    return omnisend;
  }

  it('pages through every contact, newest first, with opaque after cursors until hasMore is false', async () => {
    const omnisend = await seeded(7);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const result = await api(omnisend, 'GET', `/contacts?limit=3${after ? `&after=${after}` : ''}`);
      expect(result.status).toBe(200);
      seen.push(...emails(result));
      expect(paging(result).limit).toBe(3);
      after = paging(result).cursors.after;
      if (!paging(result).hasMore) break;
    }
    expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `c${i}@example.com`));
    expect(after).toBeNull();
    const ascending = await api(omnisend, 'GET', '/contacts?limit=2&direction=asc');
    expect(emails(ascending)).toEqual(['c0@example.com', 'c1@example.com']);
    expect((await api(omnisend, 'GET', '/contacts')).body).toMatchObject({ paging: { limit: 100, hasMore: false } });
  });

  it('goes back a page with the before cursor', async () => {
    const omnisend = await seeded(7);
    const first = await api(omnisend, 'GET', '/contacts?limit=3');
    expect(paging(first).cursors.before).toBeNull();
    const second = await api(omnisend, 'GET', `/contacts?limit=3&after=${paging(first).cursors.after}`);
    expect(emails(second)).toEqual(['c3@example.com', 'c2@example.com', 'c1@example.com']);
    const back = await api(omnisend, 'GET', `/contacts?limit=3&before=${paging(second).cursors.before}`);
    expect(emails(back)).toEqual(emails(first));
    expect(paging(back).cursors.before).toBeNull();
  });

  it('does not shift its pages when contacts are created during the listing', async () => {
    const omnisend = await seeded(6);
    const first = await api(omnisend, 'GET', '/contacts?limit=3');
    omnisend.seedContacts([{ email: 'late@example.com', status: 'subscribed' }]);
    const second = await api(omnisend, 'GET', `/contacts?limit=3&after=${paging(first).cursors.after}`);
    expect([...emails(first), ...emails(second)]).toEqual([5, 4, 3, 2, 1, 0].map((i) => `c${i}@example.com`));
  });

  it('filters by email (any case), phone, tag, status and updatedAtFrom, and shows statuses and tags', async () => {
    const omnisend = await seeded(7);
    const byEmail = await api(omnisend, 'GET', '/contacts?email=C4@Example.com');
    expect(byEmail.body).toMatchObject({
      contacts: [
        {
          email: 'c4@example.com',
          status: 'nonSubscribed',
          identifiers: [
            { type: 'email', id: 'c4@example.com', channels: { email: { status: 'nonSubscribed' } } },
            { type: 'phone', id: '+15550009999', channels: { sms: { status: 'nonSubscribed' } } },
          ],
          phone: ['+15550009999'],
          tags: ['even'],
        },
      ],
      paging: { hasMore: false, cursors: { after: null, before: null } },
    });
    expect(emails(await api(omnisend, 'GET', '/contacts?email=nobody@example.com'))).toEqual([]);
    expect(emails(await api(omnisend, 'GET', `/contacts?phone=${encodeURIComponent('+15550009999')}`))).toEqual(['c4@example.com']);
    expect(emails(await api(omnisend, 'GET', '/contacts?tag=even'))).toEqual(['c6@example.com', 'c4@example.com', 'c2@example.com', 'c0@example.com']);
    expect(emails(await api(omnisend, 'GET', '/contacts?tag=none'))).toEqual([]);
    expect(emails(await api(omnisend, 'GET', '/contacts?status=subscribed'))).toEqual(['c6@example.com', 'c3@example.com', 'c0@example.com']);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(emails(await api(omnisend, 'GET', `/contacts?updatedAtFrom=${future}`))).toEqual([]);
    expect(emails(await api(omnisend, 'GET', '/contacts?updatedAtFrom=2020-01-01T00:00:00Z'))).toHaveLength(7);
  });

  it('pages a tag with cursors of its own members', async () => {
    const omnisend = await seeded(9);
    const first = await api(omnisend, 'GET', '/contacts?tag=even&limit=2');
    const second = await api(omnisend, 'GET', `/contacts?tag=even&limit=2&after=${paging(first).cursors.after}`);
    const third = await api(omnisend, 'GET', `/contacts?tag=even&limit=2&after=${paging(second).cursors.after}`);
    expect([emails(first), emails(second), emails(third)]).toEqual([
      ['c8@example.com', 'c6@example.com'],
      ['c4@example.com', 'c2@example.com'],
      ['c0@example.com'],
    ]);
    expect(paging(third)).toMatchObject({ hasMore: false, cursors: { after: null } });
  });

  it('answers 400 validation problems for tag with status, updatedAtFrom with a filter, bad limits and cursors', async () => {
    const omnisend = await seeded(2);
    const cases: Array<[string, string]> = [
      ['tag=even&status=subscribed', 'status'],
      ['tag=even&updatedAtFrom=2020-01-01T00:00:00Z', 'updatedAtFrom'],
      ['limit=251', 'limit'],
      ['limit=0', 'limit'],
      ['after=not-a-cursor', 'after'],
      ['status=maybe', 'status'],
      ['segmentID=abc', 'segmentID'],
      ['sort=updatedAt', 'sort'],
    ];
    for (const [query, field] of cases) {
      const result = await api(omnisend, 'GET', `/contacts?${query}`);
      expect(result.status, query).toBe(400);
      expect(result.body, query).toMatchObject({ ...problemOf('validation-failed', 400), errors: [expect.objectContaining({ field }) as object] });
    }
  });

  it('counts every listing request against the brand limit', async () => {
    const omnisend = await seeded(3, { brandRateLimit: { requests: 2, windowMs: 60_000 } });
    expect((await api(omnisend, 'GET', '/contacts?limit=1')).status).toBe(200);
    expect((await api(omnisend, 'GET', '/contacts?tag=even')).status).toBe(200);
    expect((await api(omnisend, 'GET', '/contacts?email=c0@example.com')).status).toBe(429);
    expect(omnisend.rates.stats('brand')).toMatchObject({ requests: 3, throttled: 1 });
  });
});
