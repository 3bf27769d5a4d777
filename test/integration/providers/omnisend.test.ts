import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  closeSharedDispatcher,
  createProviderAdapter,
  createRateGovernor,
  ProviderThrottledError,
  type ChunkOperation,
  type DeliveryState,
  type MemberPage,
  type ProviderAdapter,
  type StepResult,
} from '../../../src/providers';
import { startOmnisendEmulator, type OmnisendEmulator } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { deliver } from './driver';

const TAG = 'vip';

let context: TestContext;
let emulator: OmnisendEmulator;

beforeAll(async () => {
  context = await createTestContext();
  emulator = await startOmnisendEmulator({ recordBodies: true, rateScale: 100, asyncDelayMs: 40 });
});

afterAll(async () => {
  await emulator?.close();
  await closeSharedDispatcher();
});

beforeEach(() => {
  emulator.reset();
  emulator.clearFaults();
});

function adapter(): ProviderAdapter {
  return createProviderAdapter({
    provider: 'omnisend',
    apiKey: emulator.apiKeys[0]!,
    baseUrl: emulator.baseUrl,
    timing: { omnisendBatchPollMs: 25 },
    http: { retry: { baseDelayMs: 5 } },
  });
}

function governor() {
  return createRateGovernor({ table: context.storage.table(context.storage.names.tables.governor), rateScale: 100 });
}

const account = () => ({ connectionId: `c-${randomUUID()}`, provider: 'omnisend' as const });

function requests(route: string) {
  return emulator.requests.entries().filter((entry) => entry.route === route);
}

async function run(omnisend: ProviderAdapter, operation: ChunkOperation): Promise<{ result: StepResult; buckets: string[] }> {
  const buckets: string[] = [];
  let state: DeliveryState = omnisend.start(operation);
  for (;;) {
    buckets.push(omnisend.nextBucket(operation, state));
    const result = await omnisend.step(operation, state);
    if (result.kind === 'done') return { result, buckets };
    state = result.state;
    await new Promise((resolve) => setTimeout(resolve, result.notBeforeMs ?? 0));
  }
}

describe('upserting into Omnisend', () => {
  it('posts batches of at most 100 contacts without welcome messages, a status only for unknown ones, then tags the new ones', async () => {
    const records = Array.from({ length: 250 }, (_, i) => ({
      email: i === 120 ? 'someone@example.invalid' : `p${i}@example.com`,
      fields: i === 0 ? { firstName: 'Ann', lastName: 'Lee', countryRegion: 'gb', city: 'London', postalCode: 'SW1A 1AA', address: '1 Main St', phone: '07911 123456' } : {},
      isNew: i % 5 !== 1,
      ...(i % 5 !== 1 ? { knownToProvider: false } : {}),
    }));
    // The members that are not new were sent by an earlier run.
    emulator.seedContacts(records.filter((record) => !record.isNew).map((record) => ({ email: record.email, status: 'nonSubscribed' as const })));
    const operation: ChunkOperation = { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records };
    const { result, buckets } = await run(adapter(), operation);

    expect(result).toEqual({
      kind: 'done',
      rejects: [{ email: 'someone@example.invalid', code: 'provider_rejected', reason: expect.stringMatching(/^Omnisend rejected the contact \(HTTP 400/) as string }],
    });
    const batches = requests('POST /api/batches');
    expect(batches.map((entry) => (entry.requestBody as { items: unknown[] }).items.length)).toEqual([100, 100, 50]);
    const first = (batches[0]!.requestBody as { method: string; endpoint: string; items: unknown[] });
    expect(first.method).toBe('POST');
    expect(first.endpoint).toBe('contacts');
    expect(first.items[0]).toEqual({
      identifiers: [
        { type: 'email', id: 'p0@example.com', channels: { email: { status: 'nonSubscribed' } }, sendWelcomeMessage: false },
        // The national number made E.164 with the mapped country.
        { type: 'phone', id: '+447911123456', channels: { sms: { status: 'nonSubscribed' } }, sendWelcomeMessage: false },
      ],
      firstName: 'Ann',
      lastName: 'Lee',
      address: '1 Main St',
      city: 'London',
      postalCode: 'SW1A 1AA',
      countryCode: 'GB',
    });
    expect(batches[0]!.headers?.['omnisend-version']).toBe('2026-03-15');
    // Items are read only for the batch that reported an error.
    expect(requests('GET /api/batches/{batchID}/items')).toHaveLength(1);
    const tagged = requests('POST /api/contacts/tags');
    expect(tagged).toHaveLength(1);
    const expectedTagged = records.filter((record, i) => record.isNew && i !== 120).map((record) => record.email);
    expect(tagged[0]!.requestBody).toEqual({ tags: [TAG], emails: expectedTagged });
    await emulator.settled();
    expect(emulator.tagMembers(TAG).sort()).toEqual([...expectedTagged].sort());
    expect(first.items[1]).toEqual({ identifiers: [{ type: 'email', id: 'p1@example.com', sendWelcomeMessage: false }] });
    expect(emulator.state.counters).toMatchObject({ welcomeMessages: 0, subscribedContacts: 0, defaultedStatuses: 0, statusChanges: 0 });
    expect(buckets.at(-1)).toBe('tags');
    expect(buckets.slice(0, -1).every((bucket) => bucket === 'brand')).toBe(true);
  });

  it('sends a contact whose phone cannot be made E.164 without it, with a phone_dropped note that counts as delivered', async () => {
    const records = [
      { email: 'fr@example.com', fields: { phone: '06 12 34 56 78', countryRegion: 'France' }, isNew: true },
      { email: 'nowhere@example.com', fields: { phone: '06 12 34 56 78' }, isNew: true },
      { email: 'fiction@example.com', fields: { phone: '+447700900123' }, isNew: true },
    ];
    const { result } = await run(adapter(), { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records });
    expect(result).toEqual({
      kind: 'done',
      rejects: [
        { email: 'nowhere@example.com', code: 'phone_dropped', delivered: true, reason: expect.stringMatching(/no mapped country/) as string },
        { email: 'fiction@example.com', code: 'phone_dropped', delivered: true, reason: expect.stringMatching(/not a valid international number/) as string },
      ],
    });
    const items = (requests('POST /api/batches')[0]!.requestBody as { items: Array<{ identifiers: Array<{ type: string; id: string }> }> }).items;
    expect(items.map((item) => item.identifiers.map((identifier) => identifier.id))).toEqual([['fr@example.com', '+33612345678'], ['nowhere@example.com'], ['fiction@example.com']]);
    await emulator.settled();
    expect(emulator.tagMembers(TAG).sort()).toEqual(['fiction@example.com', 'fr@example.com', 'nowhere@example.com']);
    expect(emulator.phoneOwner('+33612345678')).toBe('fr@example.com');
  });

  it('never posts a batch again after a timeout: it finds the batch it posted', async () => {
    const slowAdapter = createProviderAdapter({
      provider: 'omnisend',
      apiKey: emulator.apiKeys[0]!,
      baseUrl: emulator.baseUrl,
      timing: { omnisendBatchPollMs: 25 },
      http: { retry: { baseDelayMs: 5 }, timeoutInMs: 300 },
    });
    emulator.setFaults({ nextLateAnswers: 1, lateAnswerMs: 600, pathPrefix: '/api/batches' });
    const records = Array.from({ length: 150 }, (_, i) => ({ email: `t${i}@example.com`, fields: {}, isNew: true }));
    const operation: ChunkOperation = { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records };
    let state: DeliveryState = slowAdapter.start(operation);
    // The first post times out: the emulator takes the batch at once and answers after 600 ms.
    const first = await slowAdapter.step(operation, state);
    expect(first).toMatchObject({ kind: 'next', state: { lost: { batch: 0, looks: 0 } } });
    emulator.clearFaults();
    if (first.kind !== 'next') throw new Error('expected a next step');
    state = first.state;
    for (;;) {
      const result = await slowAdapter.step(operation, state);
      if (result.kind === 'done') {
        expect(result.rejects).toEqual([]);
        break;
      }
      state = result.state;
      await new Promise((resolve) => setTimeout(resolve, result.notBeforeMs ?? 0));
    }
    expect(emulator.state.batches.size).toBe(2);
    expect(requests('GET /api/batches')).toHaveLength(1);
    // The late answer to the first post is still on its way: let it land in this test's log.
    await expect.poll(() => requests('POST /api/batches').length, { timeout: 2_000 }).toBe(2);
    await emulator.settled();
    expect(emulator.tagMembers(TAG)).toHaveLength(150);
  });

  it('posts a batch again only when the lookup proves Omnisend never took it', async () => {
    emulator.setFaults({ nextServerErrors: 1, serverErrorStatus: 503, pathPrefix: '/api/batches' });
    const records = Array.from({ length: 10 }, (_, i) => ({ email: `n${i}@example.com`, fields: {}, isNew: true }));
    const { result } = await run(adapter(), { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records });
    expect(result).toEqual({ kind: 'done', rejects: [] });
    expect(requests('POST /api/batches').map((entry) => entry.status)).toEqual([503, 201]);
    expect(requests('GET /api/batches')).toHaveLength(3);
    expect(emulator.state.batches.size).toBe(1);
  });

  it('reports failed items that name no contact as provider_unmatched, never as delivered', async () => {
    const silent = await startOmnisendEmulator({ asyncDelayMs: 20, echoFailedItemRequests: false, rateScale: 100 });
    try {
      const omnisend = createProviderAdapter({ provider: 'omnisend', apiKey: silent.apiKeys[0]!, baseUrl: silent.baseUrl, timing: { omnisendBatchPollMs: 25 } });
      const records = ['u0@example.com', 'bad@example.invalid', 'u2@example.com'].map((email) => ({ email, fields: {}, isNew: true }));
      const { result } = await run(omnisend, { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records });
      expect(result).toEqual({
        kind: 'done',
        rejects: [{ email: 'bad@example.invalid', code: 'provider_unmatched', reason: expect.stringMatching(/without naming the contact/) as string }],
      });
      await silent.settled();
      expect(silent.tagMembers(TAG).sort()).toEqual(['u0@example.com', 'u2@example.com']);
    } finally {
      await silent.close();
    }
  });

  it('tags the new members of a 500-record chunk in two calls of at most 250', async () => {
    const records = Array.from({ length: 500 }, (_, i) => ({ email: `t${i}@example.com`, fields: {}, isNew: i !== 3 }));
    const { result, buckets } = await run(adapter(), { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records });
    expect(result).toEqual({ kind: 'done', rejects: [] });
    expect(requests('POST /api/batches')).toHaveLength(5);
    const tagged = requests('POST /api/contacts/tags').map((entry) => (entry.requestBody as { emails: string[] }).emails);
    expect(tagged.map((emails) => emails.length)).toEqual([250, 249]);
    await emulator.settled();
    expect(emulator.tagMembers(TAG).sort()).toEqual(records.filter((record) => record.isNew).map((record) => record.email).sort());
    expect(buckets.filter((bucket) => bucket === 'tags')).toHaveLength(2);
  });

  it('keeps the delivery state small: batch ids and indices, never the records', async () => {
    const omnisend = adapter();
    const operation: ChunkOperation = {
      kind: 'upsert',
      target: { provider: 'omnisend', tag: TAG },
      records: Array.from({ length: 250 }, (_, i) => ({ email: `s${i}@example.invalid`, fields: { firstName: 'x'.repeat(100) }, isNew: true })),
    };
    let state: DeliveryState = omnisend.start(operation);
    let largest = 0;
    for (;;) {
      const result = await omnisend.step(operation, state);
      if (result.kind === 'done') {
        expect(result.rejects).toHaveLength(250);
        break;
      }
      state = result.state;
      largest = Math.max(largest, JSON.stringify(state).length);
      await new Promise((resolve) => setTimeout(resolve, result.notBeforeMs ?? 0));
    }
    expect(largest).toBeLessThan(4_000);
  });

  it('posts a batch again when Omnisend stopped it', async () => {
    const omnisend = adapter();
    const operation: ChunkOperation = {
      kind: 'upsert',
      target: { provider: 'omnisend', tag: TAG },
      records: [{ email: 'stopped@example.com', fields: {}, isNew: true }],
    };
    emulator.setFaults({ asyncFailureShare: 1 });
    const posted = await omnisend.step(operation, omnisend.start(operation));
    await emulator.settled();
    emulator.clearFaults();
    if (posted.kind !== 'next') throw new Error('expected a next step');
    const stopped = await omnisend.step(operation, posted.state);
    expect(stopped).toMatchObject({ kind: 'next', state: { repost: true } });
    if (stopped.kind !== 'next') throw new Error('expected a next step');
    const rejects = await deliver(omnisend, governor(), account(), operation);
    expect(rejects).toEqual([]);
    expect(requests('POST /api/batches')).toHaveLength(2);
    await emulator.settled();
    expect(emulator.tagMembers(TAG)).toEqual(['stopped@example.com']);
  });

  it('throws a throttled error with the problem body retryAfter on a 429, and delivers after it', async () => {
    const omnisend = adapter();
    const operation: ChunkOperation = {
      kind: 'upsert',
      target: { provider: 'omnisend', tag: TAG },
      records: [{ email: 'late@example.com', fields: {}, isNew: true }],
    };
    emulator.setFaults({ throttleForMs: 1_200 });
    const error = await omnisend.step(operation, omnisend.start(operation)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderThrottledError);
    expect(error).toMatchObject({
      statusCode: 429,
      providerCode: 'https://problems.omnisend.com/rate-limit-exceeded',
      retryAfterSource: 'provider',
    });
    expect((error as ProviderThrottledError).retryAfterMs).toBeGreaterThanOrEqual(1_000);
    emulator.clearFaults();
    expect(await deliver(omnisend, governor(), account(), operation)).toEqual([]);
    await emulator.settled();
    expect(emulator.tagMembers(TAG)).toEqual(['late@example.com']);
  });
});

describe('removing from an Omnisend tag', () => {
  it('takes the tag off with DELETE /contacts/tags and leaves the contact and its status alone', async () => {
    const omnisend = adapter();
    const add: ChunkOperation = {
      kind: 'upsert',
      target: { provider: 'omnisend', tag: TAG },
      records: ['r1@example.com', 'r2@example.com'].map((email) => ({ email, fields: {}, isNew: true, knownToProvider: false })),
    };
    await deliver(omnisend, governor(), account(), add);
    const before = emulator.contact('r1@example.com');
    const remove: ChunkOperation = { kind: 'remove', target: { provider: 'omnisend', tag: TAG }, emails: ['r1@example.com'] };
    expect(omnisend.nextBucket(remove, omnisend.start(remove))).toBe('tags');
    expect(await omnisend.step(remove, omnisend.start(remove))).toEqual({ kind: 'done', rejects: [] });
    expect(requests('DELETE /api/contacts/tags').map((entry) => entry.requestBody)).toEqual([{ tags: [TAG], emails: ['r1@example.com'] }]);
    await emulator.settled();
    expect(emulator.tagMembers(TAG)).toEqual(['r2@example.com']);
    const { tags: _tagsBefore, ...contactBefore } = before ?? {};
    const { tags: _tagsAfter, ...contactAfter } = emulator.contact('r1@example.com') ?? {};
    expect(contactAfter).toEqual(contactBefore);
    expect(contactAfter).toMatchObject({ status: 'nonSubscribed' });
    expect(emulator.state.counters.statusChanges).toBe(0);
  });
});

describe('reading what an Omnisend brand holds', () => {
  const seedTagged = (count: number, tag: string) =>
    emulator.seedContacts(Array.from({ length: count }, (_, i) => ({ email: `Member${i}@Example.com`, status: 'subscribed' as const, tags: [tag] })));

  async function readAll(read: (cursor: string | undefined) => Promise<MemberPage>): Promise<MemberPage[]> {
    const pages: MemberPage[] = [];
    let cursor: string | undefined;
    do {
      const page = await read(cursor);
      pages.push(page);
      cursor = page.cursor;
    } while (cursor !== undefined && pages.length < 20);
    return pages;
  }

  it("reads a tag's members 250 a page, lower-cased, until the page without a cursor", async () => {
    seedTagged(600, TAG);
    emulator.seedContacts([{ email: 'other@example.com', status: 'subscribed', tags: ['elsewhere'] }]);
    const omnisend = adapter();
    expect(omnisend.membersBucket).toBe('brand');
    const target = await omnisend.prepareTarget({ provider: 'omnisend', tag: TAG });
    const pages = await readAll((cursor) => omnisend.readTargetMembers(target, cursor));
    expect(pages.map((page) => page.emails.length)).toEqual([250, 250, 100]);
    expect(pages.at(-1)).not.toHaveProperty('cursor');
    expect(pages.flatMap((page) => page.emails).sort()).toEqual(Array.from({ length: 600 }, (_, i) => `member${i}@example.com`).sort());
    const reads = requests('GET /api/contacts');
    expect(reads.map((entry) => entry.query)).toEqual([
      `tag=${TAG}&limit=250`,
      expect.stringMatching(new RegExp(`^tag=${TAG}&limit=250&after=[\\w-]+$`)) as string,
      expect.stringMatching(new RegExp(`^tag=${TAG}&limit=250&after=[\\w-]+$`)) as string,
    ]);
  });

  it('reads a tag nobody uses as one empty page', async () => {
    seedTagged(3, 'another tag');
    const omnisend = adapter();
    expect(await omnisend.readTargetMembers({ provider: 'omnisend', tag: TAG }, undefined)).toEqual({ emails: [] });
  });

  it("lists every contact of the brand 250 a page, and looks one up by email", async () => {
    seedTagged(260, TAG);
    emulator.seedContacts([{ email: 'phone.only.not.really@example.com', status: 'unsubscribed' }]);
    const directory = adapter().directory;
    if (!directory) throw new Error('Omnisend has a contact directory');
    expect(directory).toMatchObject({ bucket: 'brand', pageSize: 250 });
    const pages = await readAll((cursor) => directory.listContacts(cursor));
    expect(pages.map((page) => page.emails.length)).toEqual([250, 11]);
    expect(new Set(pages.flatMap((page) => page.emails)).size).toBe(261);
    expect(await directory.contactExists('member7@example.com')).toBe(true);
    expect(await directory.contactExists('MEMBER8@example.com')).toBe(true);
    expect(await directory.contactExists('stranger@example.com')).toBe(false);
    expect(requests('GET /api/contacts').at(-1)?.query).toBe('email=stranger%40example.com&limit=1');
  });

  it('surfaces a 429 on a page read as a throttled error', async () => {
    seedTagged(3, TAG);
    const omnisend = adapter();
    emulator.setFaults({ throttleForMs: 2_000, pathPrefix: '/api/contacts' });
    for (const read of [() => omnisend.readTargetMembers({ provider: 'omnisend', tag: TAG }, undefined), () => omnisend.directory!.listContacts(undefined)]) {
      const error = await read().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProviderThrottledError);
      expect(error).toMatchObject({ statusCode: 429, retryAfterSource: 'provider' });
    }
    await expect(omnisend.directory!.contactExists('member0@example.com')).rejects.toBeInstanceOf(ProviderThrottledError);
  });

  it("leaves a subscribed customer's email and SMS status alone and creates an unknown contact nonSubscribed", async () => {
    emulator.seedContacts([{ email: 'fan@example.com', status: 'subscribed', phone: '+447911123456' }]);
    const omnisend = adapter();
    const directory = omnisend.directory!;
    const segment = [
      { email: 'fan@example.com', fields: { firstName: 'Fay', phone: '+447911123456' } },
      { email: 'newcomer@example.com', fields: { firstName: 'Nia', phone: '+447911123457' } },
    ];
    const records = await Promise.all(segment.map(async (member) => ({ ...member, isNew: true, knownToProvider: await directory.contactExists(member.email) })));
    const rejects = await deliver(omnisend, governor(), account(), { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records });
    expect(rejects).toEqual([]);
    expect(emulator.contactStatuses('fan@example.com')).toEqual({ email: 'subscribed', phone: '+447911123456', sms: 'subscribed' });
    expect(emulator.contactStatuses('newcomer@example.com')).toEqual({ email: 'nonSubscribed', phone: '+447911123457', sms: 'nonSubscribed' });
    // Tagging is asynchronous at Omnisend.
    await emulator.settled();
    expect(emulator.contact('fan@example.com')).toMatchObject({ firstName: 'Fay', tags: [TAG] });
    expect(emulator.state.counters).toMatchObject({ statusChanges: 0, welcomeMessages: 0, defaultedStatuses: 0, subscribedContacts: 0 });
  });
});
