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
      fields: i === 0 ? { firstName: 'Ann', lastName: 'Lee', countryRegion: 'gb', city: 'London', postalCode: 'SW1A 1AA', address: '1 Main St', phone: '+447700900123' } : {},
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
        { type: 'phone', id: '+447700900123', channels: { sms: { status: 'nonSubscribed' } }, sendWelcomeMessage: false },
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
    expect(emulator.tagMembers(TAG).sort()).toEqual([...expectedTagged].sort());
    expect(first.items[1]).toEqual({ identifiers: [{ type: 'email', id: 'p1@example.com', sendWelcomeMessage: false }] });
    expect(emulator.state.counters).toMatchObject({ welcomeMessages: 0, subscribedContacts: 0, defaultedStatuses: 0, statusChanges: 0 });
    expect(buckets.at(-1)).toBe('tags');
    expect(buckets.slice(0, -1).every((bucket) => bucket === 'brand')).toBe(true);
  });

  it('tags the new members of a 500-record chunk in two calls of at most 250', async () => {
    const records = Array.from({ length: 500 }, (_, i) => ({ email: `t${i}@example.com`, fields: {}, isNew: i !== 3 }));
    const { result, buckets } = await run(adapter(), { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records });
    expect(result).toEqual({ kind: 'done', rejects: [] });
    expect(requests('POST /api/batches')).toHaveLength(5);
    const tagged = requests('POST /api/contacts/tags').map((entry) => (entry.requestBody as { emails: string[] }).emails);
    expect(tagged.map((emails) => emails.length)).toEqual([250, 249]);
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
    emulator.seedContacts([{ email: 'fan@example.com', status: 'subscribed', phone: '+15550001111' }]);
    const omnisend = adapter();
    const directory = omnisend.directory!;
    const segment = [
      { email: 'fan@example.com', fields: { firstName: 'Fay', phone: '+15550001111' } },
      { email: 'newcomer@example.com', fields: { firstName: 'Nia', phone: '+15550002222' } },
    ];
    const records = await Promise.all(segment.map(async (member) => ({ ...member, isNew: true, knownToProvider: await directory.contactExists(member.email) })));
    const rejects = await deliver(omnisend, governor(), account(), { kind: 'upsert', target: { provider: 'omnisend', tag: TAG }, records });
    expect(rejects).toEqual([]);
    expect(emulator.contactStatuses('fan@example.com')).toEqual({ email: 'subscribed', phone: '+15550001111', sms: 'subscribed' });
    expect(emulator.contactStatuses('newcomer@example.com')).toEqual({ email: 'nonSubscribed', phone: '+15550002222', sms: 'nonSubscribed' });
    expect(emulator.contact('fan@example.com')).toMatchObject({ firstName: 'Fay', tags: [TAG] });
    expect(emulator.state.counters).toMatchObject({ statusChanges: 0, welcomeMessages: 0, defaultedStatuses: 0, subscribedContacts: 0 });
  });
});
