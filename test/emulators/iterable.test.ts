import { afterEach, describe, expect, it } from 'vitest';
import { startIterableEmulator, type IterableEmulator, type IterableEmulatorOptions } from '../../dev/emulators/iterable';
import { GetListsResponseSchema, SubscribeToListParamsSchema, UserBulkUpdateListResponseSchema } from '@iterable/api/dist/types/lists.js';
import { call, field } from './test-http';

const KEY = 'iterable-test-key';
let emulator: IterableEmulator | undefined;

async function start(options: IterableEmulatorOptions = {}): Promise<IterableEmulator> {
  emulator = await startIterableEmulator({ apiKeys: [KEY], ...options });
  return emulator;
}

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function api(target: IterableEmulator, method: string, path: string, json?: unknown, key = KEY) {
  return call(`${target.baseUrl}${path}`, method, { headers: { 'Api-Key': key }, json });
}

const EMPTY_FAILURES = {
  invalidEmails: [],
  invalidUserIds: [],
  failedEmails: [],
  failedUserIds: [],
  notFoundEmails: [],
  invalidDataEmails: [],
  conflictEmails: [],
  forgottenEmails: [],
};

describe('Iterable emulator: lists', () => {
  it('creates a new list on every POST, even with the same name, and lists them', async () => {
    const iterable = await start();
    const first = field<number>(await api(iterable, 'POST', '/api/lists', { name: 'vip' }), 'listId');
    const second = field<number>(await api(iterable, 'POST', '/api/lists', { name: 'vip' }), 'listId');
    expect(second).not.toBe(first);
    const lists = await api(iterable, 'GET', '/api/lists');
    expect(lists.status).toBe(200);
    expect(lists.body).toEqual({
      lists: [
        { id: first, name: 'vip', createdAt: expect.any(Number) as number, listType: 'Standard' },
        { id: second, name: 'vip', createdAt: expect.any(Number) as number, listType: 'Standard' },
      ],
    });
    expect(iterable.listByName('vip')).toHaveLength(2);
  });

  it('serves base URLs that are the bare origin, with paths starting at /api', async () => {
    const iterable = await start();
    expect(iterable.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(iterable.baseUrl).toBe(iterable.origin);
  });
});

describe('Iterable emulator: subscribe and unsubscribe', () => {
  it('adds members with their data fields and reports invalid emails in a 200 (the lenient emulator takes what the client would refuse)', async () => {
    const iterable = await start({ strictContract: false });
    const listId = iterable.createList('vip');
    const result = await api(iterable, 'POST', '/api/lists/subscribe', {
      listId,
      updateExistingUsersOnly: false,
      subscribers: [
        { email: 'Ann@Example.com', dataFields: { firstName: 'Ann', lastName: 'Lee', phoneNumber: '+15551234567' } },
        { email: 'bad' },
        { email: 'bob@example.invalid', dataFields: { firstName: 'Bob' } },
      ],
    });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      successCount: 1,
      failCount: 2,
      failedUpdates: { ...EMPTY_FAILURES, invalidEmails: ['bad', 'bob@example.invalid'] },
      invalidEmails: ['bad', 'bob@example.invalid'],
      invalidUserIds: [],
    });
    expect(UserBulkUpdateListResponseSchema.safeParse(result.body).success).toBe(true);
    expect(iterable.listMembers(listId)).toEqual(['ann@example.com']);
    expect(iterable.state.users.get('ann@example.com')).toEqual({ firstName: 'Ann', lastName: 'Lee', phoneNumber: '+15551234567' });
  });

  it('creates unknown users despite updateExistingUsersOnly in an email-based project, as documented', async () => {
    const iterable = await start();
    const listId = iterable.createList('vip');
    const result = await api(iterable, 'POST', '/api/lists/subscribe', { listId, updateExistingUsersOnly: true, subscribers: [{ email: 'new@example.com' }] });
    expect(result.body).toMatchObject({ successCount: 1, failCount: 0 });
    expect(iterable.state.users.has('new@example.com')).toBe(true);
    expect(iterable.listMembers(listId)).toEqual(['new@example.com']);
  });

  it.each(['userId', 'hybrid'] as const)('merges data fields of existing users and skips unknown ones with updateExistingUsersOnly in a %s project', async (projectType) => {
    const iterable = await start({ projectType });
    const listId = iterable.createList('vip');
    await api(iterable, 'POST', '/api/lists/subscribe', { listId, subscribers: [{ email: 'ann@example.com', dataFields: { firstName: 'Ann', city: 'Paris' } }] });
    const result = await api(iterable, 'POST', '/api/lists/subscribe', {
      listId,
      updateExistingUsersOnly: true,
      subscribers: [{ email: 'ann@example.com', dataFields: { city: 'London' } }, { email: 'new@example.com' }],
    });
    expect(result.body).toMatchObject({ successCount: 1, failCount: 1, failedUpdates: { notFoundEmails: ['new@example.com'] } });
    expect(iterable.state.users.get('ann@example.com')).toEqual({ firstName: 'Ann', city: 'London' });
    expect(iterable.state.users.has('new@example.com')).toBe(false);
  });

  it('removes members from the list only, and records channelUnsubscribe as a global unsubscribe', async () => {
    const iterable = await start();
    const listId = iterable.createList('vip');
    const emails = ['a@example.com', 'b@example.com', 'c@example.com'];
    await api(iterable, 'POST', '/api/lists/subscribe', { listId, subscribers: emails.map((email) => ({ email })) });

    const removal = await api(iterable, 'POST', '/api/lists/unsubscribe', {
      listId,
      subscribers: [{ email: 'a@example.com' }, { email: 'nobody@example.com' }, { email: 'gone@example.invalid' }],
      channelUnsubscribe: false,
    });
    expect(removal.body).toEqual({
      successCount: 1,
      failCount: 2,
      failedUpdates: { ...EMPTY_FAILURES, invalidEmails: ['gone@example.invalid'], notFoundEmails: ['nobody@example.com'] },
      invalidEmails: ['gone@example.invalid'],
      invalidUserIds: [],
    });
    expect(UserBulkUpdateListResponseSchema.safeParse(removal.body).success).toBe(true);
    expect(iterable.listMembers(listId).sort()).toEqual(['b@example.com', 'c@example.com']);
    expect(iterable.state.globalUnsubscribes.size).toBe(0);
    expect(iterable.state.users.has('a@example.com')).toBe(true);

    await api(iterable, 'POST', '/api/lists/unsubscribe', { listId, subscribers: [{ email: 'b@example.com' }], channelUnsubscribe: true });
    expect([...iterable.state.globalUnsubscribes]).toEqual(['b@example.com']);
    expect(iterable.summary()).toMatchObject({ globalUnsubscribes: 1, counters: { channelUnsubscribeRequests: 1 } });
  });
});

describe('Iterable emulator: errors', () => {
  it('answers 401 BadApiKey to a missing, wrong or revoked key', async () => {
    const iterable = await start();
    const missing = await call(`${iterable.baseUrl}/api/lists`, 'GET');
    expect(missing.status).toBe(401);
    expect(missing.body).toEqual({ msg: 'Invalid API key', code: 'BadApiKey', params: {} });
    expect((await api(iterable, 'GET', '/api/lists', undefined, 'wrong')).status).toBe(401);
    iterable.revokeKey(KEY);
    expect((await api(iterable, 'GET', '/api/lists')).status).toBe(401);
    iterable.addKey(KEY);
    expect((await api(iterable, 'GET', '/api/lists')).status).toBe(200);
  });

  it('answers BadJsonBody, BadParams and BatchTooLarge like Iterable', async () => {
    const iterable = await start({ maxSubscribersPerRequest: 3 });
    const listId = iterable.createList('vip');
    const notJson = await call(`${iterable.baseUrl}/api/lists/subscribe`, 'POST', {
      headers: { 'Api-Key': KEY, 'content-type': 'application/json' },
      body: '{"listId":',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ code: 'BadJsonBody' });

    const tooMany = await api(iterable, 'POST', '/api/lists/subscribe', {
      listId,
      subscribers: ['a', 'b', 'c', 'd'].map((name) => ({ email: `${name}@example.com` })),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ code: 'BatchTooLarge', params: { maxSubscribers: 3, count: 4 } });

    const missingList = await api(iterable, 'POST', '/api/lists/subscribe', { listId: 999_999, subscribers: [{ email: 'a@example.com' }] });
    expect(missingList.status).toBe(400);
    expect(missingList.body).toMatchObject({ code: 'BadParams', params: { listId: 999_999 } });

    const unknownRoute = await api(iterable, 'GET', '/api/nothing');
    expect(unknownRoute.status).toBe(404);
  });

  it('answers BatchTooLarge to a body over the byte limit', async () => {
    const iterable = await start({ maxBodyBytes: 200 });
    const listId = iterable.createList('vip');
    const subscribers = Array.from({ length: 20 }, (_, index) => ({ email: `member${index}@example.com` }));
    const result = await api(iterable, 'POST', '/api/lists/subscribe', { listId, subscribers });
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ code: 'BatchTooLarge', params: { maxBytes: 200 } });
    expect(iterable.listMembers(listId)).toEqual([]);
  });

  it('refuses data fields outside the documented names (contract) unless strictContract is off', async () => {
    const strict = await start();
    const listId = strict.createList('vip');
    const body = { listId, subscribers: [{ email: 'a@example.com', dataFields: { first_name: 'Ann' } }] };
    const refused = await api(strict, 'POST', '/api/lists/subscribe', body);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'BadParams', params: { errors: [expect.objectContaining({ field: 'subscribers[0].dataFields.first_name' }) as object] } });
    expect(strict.listMembers(listId)).toEqual([]);
    await strict.close();

    const lenient = await start({ strictContract: false });
    const lenientList = lenient.createList('vip');
    const accepted = await api(lenient, 'POST', '/api/lists/subscribe', { ...body, listId: lenientList });
    expect(accepted.status).toBe(200);
  });

  it('refuses a body without a JSON content-type', async () => {
    const iterable = await start();
    const result = await call(`${iterable.baseUrl}/api/lists`, 'POST', { headers: { 'Api-Key': KEY, 'content-type': 'text/plain' }, body: '{"name":"x"}' });
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ code: 'BadJsonBody' });
  });

  it('deletes a list (the missing-list fault) and then refuses it', async () => {
    const iterable = await start();
    const listId = iterable.createList('vip');
    expect((await api(iterable, 'DELETE', `/api/lists/${listId}`)).body).toEqual({ msg: '', code: 'Success', params: null });
    expect((await api(iterable, 'DELETE', `/api/lists/${listId}`)).status).toBe(400);
    const other = iterable.createList('other');
    iterable.deleteList(other);
    expect((await api(iterable, 'POST', '/api/lists/subscribe', { listId: other, subscribers: [] })).status).toBe(400);
  });
});

describe('Iterable emulator: rate limit', () => {
  it('answers 429 RateLimitExceeded without Retry-After once a key used its window', async () => {
    const iterable = await start({ rateLimit: { requests: 3, windowMs: 60_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await api(iterable, 'GET', '/api/lists')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const throttled = await api(iterable, 'GET', '/api/lists');
    expect(throttled.body).toEqual({ msg: 'Rate limit exceeded', code: 'RateLimitExceeded', params: null });
    expect(throttled.headers.get('retry-after')).toBeNull();
    expect(iterable.requests.counts).toMatchObject({ status2xx: 3, status429: 2 });
    expect(iterable.rates.maxRequestsInAnyWindow('api', 60_000)).toBe(5);
    expect(iterable.rates.maxRequestsInAnyWindow('api', 60_000, { includeThrottled: false })).toBe(3);
  });

  it('limits per project, as documented: a second key of the project shares the window', async () => {
    const shared = await start({ apiKeys: [KEY, 'second-key'], rateLimit: { requests: 1, windowMs: 60_000 } });
    expect((await api(shared, 'GET', '/api/lists')).status).toBe(200);
    expect((await api(shared, 'GET', '/api/lists', undefined, 'second-key')).status).toBe(429);
  });

  it('multiplies the limit by rateScale and ignores it when unthrottled', async () => {
    const scaled = await start({ rateLimit: { requests: 2, windowMs: 60_000 }, rateScale: 2 });
    expect(scaled.rates.limits('api')).toEqual([{ requests: 4, windowMs: 60_000 }]);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await api(scaled, 'GET', '/api/lists')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    await scaled.close();

    const unthrottled = await start({ rateLimit: { requests: 1, windowMs: 60_000 }, unthrottled: true });
    for (let i = 0; i < 5; i += 1) expect((await api(unthrottled, 'GET', '/api/lists')).status).toBe(200);
    expect(unthrottled.rates.stats('api')).toMatchObject({ requests: 5, throttled: 0 });
  });
});

describe('Iterable emulator: the users of a list', () => {
  it('answers every member as plain text, one email per line, and nothing for an empty list', async () => {
    const iterable = await start();
    const listId = iterable.createList('vip');
    const empty = await api(iterable, 'GET', `/api/lists/getUsers?listId=${listId}`);
    expect(empty.status).toBe(200);
    expect(empty.text).toBe('');
    iterable.seedListMembers(listId, ['Ann@Example.com', 'bob@example.com']);
    const users = await api(iterable, 'GET', `/api/lists/getUsers?listId=${listId}`);
    expect(users.status).toBe(200);
    expect(users.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(users.text).toBe('ann@example.com\nbob@example.com\n');
    expect(iterable.state.users.has('ann@example.com')).toBe(true);
  });

  it('answers 400 BadParams for a missing or unknown listId', async () => {
    const iterable = await start();
    for (const query of ['', '?listId=abc', '?listId=4242']) {
      const result = await api(iterable, 'GET', `/api/lists/getUsers${query}`);
      expect(result.status, query).toBe(400);
      expect(result.body, query).toMatchObject({ code: 'BadParams' });
    }
  });

  it('limits getUsers to 5 requests a minute, counted in the api bucket too', async () => {
    const iterable = await start();
    const listId = iterable.createList('vip');
    for (let i = 0; i < 5; i += 1) expect((await api(iterable, 'GET', `/api/lists/getUsers?listId=${listId}`)).status).toBe(200);
    // Spread over more than a second, so that the api bucket (5/s) is not what refuses.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const throttled = await api(iterable, 'GET', `/api/lists/getUsers?listId=${listId}`);
    expect(throttled.status).toBe(429);
    expect(throttled.body).toMatchObject({ code: 'RateLimitExceeded' });
    expect((await api(iterable, 'GET', '/api/lists')).status).toBe(200);
    expect(iterable.rates.stats('listUsers')).toMatchObject({ requests: 6, throttled: 1 });
    expect(iterable.rates.stats('api').requests).toBe(7);
  });
});

describe('Iterable emulator: the contract of Iterable\'s own client (@iterable/api)', () => {
  it('refuses a subscribe whose email the client\'s schema refuses, as a whole, and changes nothing', async () => {
    const iterable = await start();
    const listId = iterable.createList('vip');
    const body = { listId, subscribers: [{ email: 'ann@example.com' }, { email: 'poison!@example.com' }] };
    expect(SubscribeToListParamsSchema.safeParse(body).success).toBe(false);
    const refused = await api(iterable, 'POST', '/api/lists/subscribe', body);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'BadParams', params: { errors: [expect.objectContaining({ field: 'subscribers.1.email' }) as object] } });
    expect(iterable.listMembers(listId)).toEqual([]);
  });

  it('answers lists that parse with the client\'s schema, with every list type', async () => {
    const iterable = await start({ lists: ['vip', { name: 'vip', listType: 'Suppression' }, { name: 'dyn', listType: 'Dynamic' }] });
    const lists = await api(iterable, 'GET', '/api/lists');
    const parsed = GetListsResponseSchema.parse(lists.body);
    expect(parsed.lists.map((list) => [list.name, list.listType])).toEqual([['vip', 'Standard'], ['vip', 'Suppression'], ['dyn', 'Dynamic']]);
  });

  it('has no subscriber cap unless one is configured: the 4 MiB body is the documented bound', async () => {
    const iterable = await start();
    const listId = iterable.createList('vip');
    const subscribers = Array.from({ length: 2_500 }, (_, index) => ({ email: `m${index}@example.com` }));
    const result = await api(iterable, 'POST', '/api/lists/subscribe', { listId, subscribers });
    expect(result.body).toMatchObject({ successCount: 2_500 });
  });
});
