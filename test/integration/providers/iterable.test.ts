import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  closeSharedDispatcher,
  createProviderAdapter,
  createRateGovernor,
  ProviderThrottledError,
  type ChunkOperation,
  type ProviderAdapter,
  type Target,
} from '../../../src/providers';
import { startIterableEmulator, type IterableEmulator } from '../../../dev/emulators';
import { takePaced } from '../../../src/pipeline/pacing';
import { createTestContext, type TestContext } from '../../support/context';
import { deliver } from './driver';

let context: TestContext;
let emulator: IterableEmulator;

beforeAll(async () => {
  context = await createTestContext();
  emulator = await startIterableEmulator({ recordBodies: true, rateScale: 100 });
});

afterAll(async () => {
  await emulator?.close();
  await closeSharedDispatcher();
});

beforeEach(() => {
  emulator.reset();
  emulator.clearFaults();
});

function adapter(connectionId = 'conn-iterable'): ProviderAdapter {
  return createProviderAdapter({
    provider: 'iterable',
    apiKey: emulator.apiKeys[0]!,
    baseUrl: emulator.baseUrl,
    connectionId,
    storage: context.storage,
    http: { retry: { baseDelayMs: 5 } },
  });
}

function lastBody(route: string): Record<string, unknown> {
  const entry = emulator.requests.entries().filter((request) => request.route === route).at(-1);
  return entry?.requestBody as Record<string, unknown>;
}

function routeCount(route: string): number {
  return emulator.requests.entries().filter((request) => request.route === route).length;
}

describe('preparing an Iterable list', () => {
  it('adopts only a Standard list by name: a Suppression, Dynamic or Internal list of that name is left alone', async () => {
    const suppression = emulator.createList('Churned', 'Suppression');
    emulator.createList('Churned', 'Dynamic');
    emulator.createList('Churned', 'Internal');
    const target = await adapter(`c-${randomUUID()}`).prepareTarget({ provider: 'iterable', listName: 'Churned' });
    const standard = emulator.listByName('Churned').filter((list) => list.listType === 'Standard');
    expect(standard).toHaveLength(1);
    expect(target).toEqual({ provider: 'iterable', listId: standard[0]!.id, listName: 'Churned' });
    expect(target.provider === 'iterable' && target.listId).not.toBe(suppression);

    const adopted = emulator.createList('Loyal', 'Standard');
    emulator.createList('Loyal', 'Suppression');
    await expect(adapter(`c-${randomUUID()}`).prepareTarget({ provider: 'iterable', listName: 'Loyal' })).resolves.toMatchObject({ listId: adopted });
  });

  it('creates the list named after the segment once, then finds it', async () => {
    const connectionId = `c-${randomUUID()}`;
    const first = await adapter(connectionId).prepareTarget({ provider: 'iterable', listName: 'VIP customers' });
    const again = await adapter(connectionId).prepareTarget({ provider: 'iterable', listName: 'VIP customers' });
    expect(again).toEqual(first);
    expect(emulator.listByName('VIP customers').map((list) => list.id)).toEqual([first.provider === 'iterable' && first.listId]);
    expect(routeCount('POST /api/lists')).toBe(1);
  });

  it('creates a list once even when workers on several hosts race for it', async () => {
    const connectionId = `c-${randomUUID()}`;
    const targets = await Promise.all(
      Array.from({ length: 5 }, () => adapter(connectionId).prepareTarget({ provider: 'iterable', listName: 'raced' })),
    );
    expect(routeCount('POST /api/lists')).toBe(1);
    expect(emulator.listByName('raced')).toHaveLength(1);
    expect(new Set(targets.map((target) => JSON.stringify(target))).size).toBe(1);
  });

  it('uses a list that already exists instead of creating one', async () => {
    const listId = emulator.createList('existing');
    const target = await adapter(`c-${randomUUID()}`).prepareTarget({ provider: 'iterable', listName: 'existing' });
    expect(target).toEqual({ provider: 'iterable', listId, listName: 'existing' });
    expect(routeCount('POST /api/lists')).toBe(0);
  });

  it('creates the list again when the remembered one was deleted in Iterable', async () => {
    const connectionId = `c-${randomUUID()}`;
    const first = (await adapter(connectionId).prepareTarget({ provider: 'iterable', listName: 'gone' })) as Extract<Target, { provider: 'iterable' }>;
    emulator.deleteList(first.listId);
    const second = (await adapter(connectionId).prepareTarget({ provider: 'iterable', listName: 'gone' })) as Extract<Target, { provider: 'iterable' }>;
    expect(second.listId).not.toBe(first.listId);
    expect(emulator.listByName('gone').map((list) => list.id)).toEqual([second.listId]);
  });
});

describe('delivering to Iterable', () => {
  const target = (listId: number): Target => ({ provider: 'iterable', listId, listName: 'members' });

  it('subscribes members with their data fields in one lists/subscribe call and reports invalid emails', async () => {
    const listId = emulator.createList('members');
    const operation: ChunkOperation = {
      kind: 'upsert',
      target: target(listId),
      records: [
        { email: 'ann@example.com', fields: { firstName: 'Ann', lastName: 'Lee', phone: '+15551234567', countryRegion: 'US', postalCode: '10001' }, isNew: true },
        { email: 'bob@example.com', fields: {}, isNew: false },
        { email: 'someone@example.invalid', fields: { firstName: 'X' }, isNew: true },
      ],
    };
    const iterable = adapter();
    const result = await iterable.step(operation, iterable.start(operation));

    expect(result).toEqual({
      kind: 'done',
      rejects: [{ email: 'someone@example.invalid', code: 'provider_rejected', reason: 'Iterable rejected the email address as invalid' }],
    });
    expect(routeCount('POST /api/lists/subscribe')).toBe(1);
    expect(lastBody('POST /api/lists/subscribe')).toEqual({
      listId,
      updateExistingUsersOnly: false,
      subscribers: [
        {
          email: 'ann@example.com',
          dataFields: { firstName: 'Ann', lastName: 'Lee', phoneNumber: '+15551234567', country: 'US', postalCode: '10001' },
        },
        { email: 'bob@example.com' },
        { email: 'someone@example.invalid', dataFields: { firstName: 'X' } },
      ],
    });
    expect(emulator.listMembers(listId).sort()).toEqual(['ann@example.com', 'bob@example.com']);
  });

  it('removes members from the list only, never unsubscribing them globally', async () => {
    const listId = emulator.createList('members');
    const iterable = adapter();
    const add: ChunkOperation = {
      kind: 'upsert',
      target: target(listId),
      records: ['a@example.com', 'b@example.com'].map((email) => ({ email, fields: {}, isNew: true })),
    };
    await iterable.step(add, iterable.start(add));
    const remove: ChunkOperation = { kind: 'remove', target: target(listId), emails: ['a@example.com', 'never-added@example.com'] };
    const result = await iterable.step(remove, iterable.start(remove));

    expect(result).toEqual({ kind: 'done', rejects: [] });
    expect(lastBody('POST /api/lists/unsubscribe')).toEqual({
      listId,
      subscribers: [{ email: 'a@example.com' }, { email: 'never-added@example.com' }],
      channelUnsubscribe: false,
    });
    expect(emulator.listMembers(listId)).toEqual(['b@example.com']);
    expect(emulator.state.globalUnsubscribes.size).toBe(0);
  });

  it('sends its key in the Api-Key header and every body as JSON', async () => {
    const listId = emulator.createList('members');
    const operation: ChunkOperation = { kind: 'remove', target: target(listId), emails: ['x@example.com'] };
    await adapter().step(operation, {});
    const entry = emulator.requests.entries().at(-1)!;
    expect(entry.keyId).toBe(emulator.keyIdOf(emulator.apiKeys[0]!));
    expect(entry.headers?.['content-type']).toMatch(/^application\/json/);
  });

  it('throws a throttled error carrying the wait on a 429, and delivers once the storm is over', async () => {
    const listId = emulator.createList('members');
    const iterable = createProviderAdapter({
      provider: 'iterable',
      apiKey: emulator.apiKeys[0]!,
      baseUrl: emulator.baseUrl,
      http: { defaultThrottleWaitMs: 50 },
    });
    const operation: ChunkOperation = { kind: 'upsert', target: target(listId), records: [{ email: 'late@example.com', fields: {}, isNew: true }] };
    emulator.setFaults({ throttleForMs: 300 });

    const error = await iterable.step(operation, iterable.start(operation)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderThrottledError);
    expect(error).toMatchObject({ code: 'provider_throttled', statusCode: 429, providerCode: 'RateLimitExceeded', retryAfterMs: 50, retryAfterSource: 'default' });

    const governor = createRateGovernor({ table: context.storage.table(context.storage.names.tables.governor), rateScale: 100 });
    const stats = { steps: 0, throttled: 0, waits: 0 };
    const rejects = await deliver(iterable, governor, { connectionId: `c-${randomUUID()}`, provider: 'iterable' }, operation, { stats });
    expect(rejects).toEqual([]);
    expect(stats.throttled).toBeGreaterThan(0);
    expect(emulator.listMembers(listId)).toEqual(['late@example.com']);
  });
});

describe("reading an Iterable list's users", () => {
  it('reads every member in one page, lower-cased, skipping userIds of users without an email', async () => {
    const listId = emulator.createList('adopted');
    emulator.seedListMembers(listId, Array.from({ length: 1_200 }, (_, i) => `Old${i}@Example.com`));
    const iterable = adapter(`c-${randomUUID()}`);
    expect(iterable.membersBucket).toBe('listUsers');
    const target = await iterable.prepareTarget({ provider: 'iterable', listName: 'adopted' });
    const page = await iterable.readTargetMembers(target, undefined);
    expect(page).not.toHaveProperty('cursor');
    // Iterable documents no order for the list's users.
    expect([...page.emails].sort()).toEqual(Array.from({ length: 1_200 }, (_, i) => `old${i}@example.com`).sort());
    expect(emulator.requests.entries().at(-1)).toMatchObject({ route: 'GET /api/lists/getUsers', query: `listId=${listId}` });
  });

  it('reads an empty list as one empty page and refuses a second page', async () => {
    const iterable = adapter(`c-${randomUUID()}`);
    const target = await iterable.prepareTarget({ provider: 'iterable', listName: 'fresh' });
    expect(await iterable.readTargetMembers(target, undefined)).toEqual({ emails: [] });
    await expect(iterable.readTargetMembers(target, 'next')).rejects.toThrow(/one page/);
  });

  it('surfaces a 429 on the read as a throttled error', async () => {
    const listId = emulator.createList('busy');
    const iterable = adapter(`c-${randomUUID()}`);
    emulator.setFaults({ throttleForMs: 2_000, pathPrefix: '/api/lists/getUsers' });
    const error = await iterable.readTargetMembers({ provider: 'iterable', listId, listName: 'busy' }, undefined).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderThrottledError);
    expect(error).toMatchObject({ statusCode: 429, providerCode: 'RateLimitExceeded' });
  });

  it('draws from a 5-a-minute bucket that also counts against the project API budget', async () => {
    const governor = createRateGovernor({ table: context.storage.table(context.storage.names.tables.governor), rateScale: 1 });
    const account = { connectionId: `c-${randomUUID()}`, provider: 'iterable' as const };
    // The project budget (5 a second) is paced: grants 200 ms apart, waited for in place.
    const take = () => takePaced(governor, account, 'listUsers', { maxPacedWaitMs: 1_000 });
    for (let i = 0; i < 5; i += 1) expect(await take()).toMatchObject({ granted: true });
    const refused = await take();
    expect(refused).toMatchObject({ granted: false });
    expect(refused !== 'stop' && !refused.granted ? refused.waitMs : 0).toBeGreaterThan(50_000);
  });
});
