import fc from 'fast-check';
import { MockAgent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chunkItemBytes, createProviderAdapter, MAPPED_FIELDS, type ChunkOperation, type MappedField, type ProviderAdapter } from '../../../src/providers';

/**
 * The pipeline cuts chunks with `chunkLimits` alone (records, and the bytes of the records' JSON):
 * any chunk within them must make requests within the provider's own limits, whatever the fields
 * and characters. These build chunks filled to the byte limit and measure what the adapter sends.
 */
const ORIGIN = 'https://provider.test';
let agent: MockAgent;
let sent: number[] = [];

beforeAll(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  const pool = agent.get(ORIGIN);
  const capture = (statusCode: number, data: object | string) => (request: { body?: unknown }) => {
    sent.push(Buffer.byteLength(String(request.body)));
    return { statusCode, data };
  };
  pool.intercept({ path: '/api/lists/subscribe', method: 'POST' }).reply(capture(200, { successCount: 0, failCount: 0 })).persist();
  pool.intercept({ path: '/api/lists/unsubscribe', method: 'POST' }).reply(capture(200, { successCount: 0, failCount: 0 })).persist();
  pool.intercept({ path: /^\/v3\/processes\?/, method: 'GET' }).reply(200, { count: 0, processes: [] }).persist();
  pool.intercept({ path: '/v3/contacts/import', method: 'POST' }).reply(capture(202, { processId: 1 })).persist();
  pool.intercept({ path: /\/v3\/contacts\/lists\/\d+\/contacts\/remove/, method: 'POST' }).reply(capture(201, { contacts: {} })).persist();
  pool.intercept({ path: '/api/batches', method: 'POST' }).reply(capture(201, { batchID: 'b' })).persist();
  pool.intercept({ path: '/api/batches/b', method: 'GET' }).reply(200, { status: 'finished', errorsCount: 0 }).persist();
  pool.intercept({ path: '/api/contacts/tags', method: 'POST' }).reply(capture(202, '')).persist();
  pool.intercept({ path: '/api/contacts/tags', method: 'DELETE' }).reply(capture(202, '')).persist();
});

afterAll(async () => {
  await agent.close();
});

function adapter(provider: 'iterable' | 'brevo' | 'omnisend', brevoAttributes?: Partial<Record<MappedField, string>>): ProviderAdapter {
  return createProviderAdapter({
    provider,
    apiKey: 'k',
    baseUrl: provider === 'iterable' ? ORIGIN : provider === 'brevo' ? `${ORIGIN}/v3` : `${ORIGIN}/api`,
    brevoAttributes,
    http: { dispatcher: agent, retry: { maxRetries: 0 } },
  });
}

const target = {
  iterable: { provider: 'iterable', listId: 2_147_483_647, listName: 'a list' },
  brevo: { provider: 'brevo', listId: 2_147_483_647 },
  omnisend: { provider: 'omnisend', tag: 'a segment with a long name'.repeat(4) },
} as const;

/** What the provider accepts in one request body. */
const BODY_LIMIT = { iterable: 4_000_000, brevo: 8_000_000, omnisend: 1_000_000 };

const shape = fc.record({
  fields: fc.subarray([...MAPPED_FIELDS]),
  records: fc.double({ min: 0, max: 1, noNaN: true }),
  character: fc.constantFrom('a', 'é', '€', '😀', '"', '\\', '\n'),
  isNew: fc.boolean(),
  knownToProvider: fc.constantFrom(undefined, true, false),
  segmentId: fc.boolean(),
  countryCode: fc.boolean(),
});

/** A chunk of `count` records whose JSON adds up to just under `maxBytes`. */
type Shape = typeof shape extends fc.Arbitrary<infer T> ? T : never;

function fullChunk(provider: keyof typeof target, maxRecords: number, maxBytes: number, spec: Shape): ChunkOperation {
  const make = (units: number) =>
    Array.from({ length: count }, (_, i) => ({
      email: `person.${i}@example.com`,
      fields: Object.fromEntries(
        spec.fields.map((field) => [field, field === 'countryRegion' && spec.countryCode ? 'GB' : spec.character.repeat(units)]),
      ),
      isNew: spec.isNew,
      ...(spec.knownToProvider === undefined ? {} : { knownToProvider: spec.knownToProvider }),
      ...(spec.segmentId ? { segmentId: 'segment-1' } : {}),
    }));
  const bytes = (records: ReturnType<typeof make>) => records.reduce((sum, record) => sum + chunkItemBytes(record), 0);
  // As many records as asked, but no more than fit the bytes even with empty fields.
  let count = Math.max(1, Math.round(spec.records * maxRecords));
  count = Math.min(count, Math.floor((maxBytes * count) / bytes(make(0))));
  const base = bytes(make(0));
  const perUnit = spec.fields.length === 0 ? 0 : bytes(make(1)) - base;
  const units = perUnit === 0 ? 0 : Math.max(0, Math.floor((maxBytes - base) / perUnit));
  const records = make(units);
  expect(bytes(records)).toBeLessThanOrEqual(maxBytes);
  return { kind: 'upsert', target: target[provider], records };
}

/** The sizes of the bodies sent while delivering the chunk (Brevo: up to the import). */
async function bodiesOf(instance: ProviderAdapter, operation: ChunkOperation): Promise<number[]> {
  sent = [];
  let state = instance.start(operation);
  for (;;) {
    const result = await instance.step(operation, state);
    if (result.kind === 'done' || (instance.provider === 'brevo' && sent.length > 0)) return sent;
    state = result.state;
  }
}

describe.each([
  ['iterable', undefined],
  ['brevo', undefined],
  ['brevo', { firstName: 'A_VERY_LONG_FIRST_NAME_ATTRIBUTE', postalCode: 'CUSTOMER_POSTAL_CODE_FOR_DELIVERY', countryRegion: 'COUNTRY_OR_REGION_OF_RESIDENCE' }],
  ['omnisend', undefined],
] as const)('a full %s upsert chunk (attributes %j)', (provider, attributes) => {
  it("makes requests within the provider's body limit", async () => {
    const instance = adapter(provider, attributes);
    const { maxRecords, maxBytes } = instance.chunkLimits.upsert;
    await fc.assert(
      fc.asyncProperty(shape, async (spec) => {
        const sizes = await bodiesOf(instance, fullChunk(provider, maxRecords, maxBytes, spec));
        expect(sizes.length).toBeGreaterThan(0);
        for (const size of sizes) expect(size).toBeLessThanOrEqual(BODY_LIMIT[provider]);
      }),
      { numRuns: 12 },
    );
  });
});

it('an Omnisend batch of new members unknown to Omnisend, statuses and all, stays within the body limit', async () => {
  // The largest batch body: 100 records (one batch) of every field, each carrying the email and SMS
  // statuses that only contacts unknown to Omnisend get.
  const instance = adapter('omnisend');
  const { maxRecords, maxBytes } = instance.chunkLimits.upsert;
  const spec: Shape = { fields: [...MAPPED_FIELDS], records: 100 / maxRecords, character: 'a', isNew: true, knownToProvider: false, segmentId: false, countryCode: false };
  const operation = fullChunk('omnisend', maxRecords, maxBytes, spec);
  expect(operation.kind === 'upsert' && operation.records).toHaveLength(100);
  const sizes = await bodiesOf(instance, operation);
  expect(sizes[0]).toBeLessThanOrEqual(BODY_LIMIT.omnisend);
});

describe('removal chunks', () => {
  it.each(['iterable', 'brevo', 'omnisend'] as const)('%s: a full chunk of the longest emails fits one request', async (provider) => {
    const instance = adapter(provider);
    const { maxRecords, maxBytes } = instance.chunkLimits.remove;
    const email = `${'x'.repeat(64)}@${'d'.repeat(185)}.com`;
    const emails = Array.from({ length: maxRecords }, () => email);
    expect(emails.reduce((sum, item) => sum + chunkItemBytes(item), 0)).toBeLessThanOrEqual(maxBytes);
    const sizes = await bodiesOf(instance, { kind: 'remove', target: target[provider], emails });
    expect(sizes).toHaveLength(1);
    expect(sizes[0]).toBeLessThanOrEqual(provider === 'brevo' ? 1_048_576 : BODY_LIMIT[provider]);
  });

  it('are 1,000 for Iterable, 150 for Brevo and 250 for Omnisend', () => {
    expect(adapter('iterable').chunkLimits.remove.maxRecords).toBe(1_000);
    expect(adapter('brevo').chunkLimits.remove.maxRecords).toBe(150);
    expect(adapter('omnisend').chunkLimits.remove.maxRecords).toBe(250);
  });
});

it('upsert chunks take 1,000 records for Iterable, 70,000 for Brevo and 500 for Omnisend', () => {
  expect(adapter('iterable').chunkLimits.upsert.maxRecords).toBe(1_000);
  expect(adapter('brevo').chunkLimits.upsert.maxRecords).toBe(70_000);
  expect(adapter('omnisend').chunkLimits.upsert.maxRecords).toBe(500);
  expect(z.number().int().positive().safeParse(adapter('brevo').chunkLimits.upsert.maxBytes).success).toBe(true);
});
