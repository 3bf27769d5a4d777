import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  closeSharedDispatcher,
  createMemoryTargetRegistry,
  createProviderAdapter,
  createRateGovernor,
  isProviderErrorKind,
  ProviderAuthError,
  type ChunkOperation,
  type ProviderAdapter,
  type TargetRegistry,
} from '../../../src/providers';
import { startIterableEmulator, type IterableEmulator } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { deliver } from './driver';

const BASE_DELAY_MS = 10;

let context: TestContext;
let emulator: IterableEmulator;

beforeAll(async () => {
  context = await createTestContext();
  emulator = await startIterableEmulator({ rateScale: 100 });
});

afterAll(async () => {
  await emulator?.close();
  await closeSharedDispatcher();
});

beforeEach(() => {
  emulator.reset();
  emulator.clearFaults();
});

function adapter(apiKey = emulator.apiKeys[0]!): ProviderAdapter {
  return createProviderAdapter({
    provider: 'iterable',
    apiKey,
    baseUrl: emulator.baseUrl,
    targetRegistry: createMemoryTargetRegistry(),
    http: { timeoutInMs: 150, retry: { maxRetries: 8, baseDelayMs: BASE_DELAY_MS, maxDelayMs: 200 } },
  });
}

const subscribe = (listId: number, emails: string[]): ChunkOperation => ({
  kind: 'upsert',
  target: { provider: 'iterable', listId, listName: 'faults' },
  records: emails.map((email) => ({ email, fields: {}, isNew: true })),
});

describe('an Iterable that fails now and then', () => {
  it('retries 503s, connection resets and slow answers with backoff, and loses nothing', async () => {
    const listId = emulator.createList('faults');
    emulator.setFaults({ serverErrorShare: 0.2, serverErrorStatus: 503, resetShare: 0.05, slowShare: 0.05, slowDelayMs: 400 });
    const iterable = adapter();
    const governor = createRateGovernor({ table: context.storage.table(context.storage.names.tables.governor), rateScale: 100 });
    const account = { connectionId: `c-${randomUUID()}`, provider: 'iterable' as const };
    const retries: Array<{ attempt: number; delayMs: number; code: string; statusCode?: number }> = [];

    for (let chunk = 0; chunk < 40; chunk += 1) {
      const emails = Array.from({ length: 5 }, (_, i) => `f${chunk}-${i}@example.com`);
      const rejects = await deliver(iterable, governor, account, subscribe(listId, emails), {
        beforeRetry: ({ attempt, delayMs, error }) => {
          const { providerCode, statusCode } = error as { providerCode?: string; statusCode?: number };
          retries.push({ attempt, delayMs, code: providerCode ?? '', statusCode });
        },
      });
      expect(rejects).toEqual([]);
    }

    expect(emulator.listMembers(listId)).toHaveLength(200);
    const counts = emulator.requests.counts;
    expect(counts.status5xx).toBeGreaterThan(0);
    expect(counts.resets).toBeGreaterThan(0);
    // Every kind of failure was met and retried: 503s, resets (no answer) and timeouts.
    expect(retries.some((retry) => retry.statusCode === 503)).toBe(true);
    expect(retries.some((retry) => retry.statusCode === undefined && retry.code !== 'timeout')).toBe(true);
    expect(retries.some((retry) => retry.code === 'timeout')).toBe(true);
    expect(retries.length).toBeGreaterThanOrEqual(counts.resets);
    for (const retry of retries) expect(retry.delayMs).toBeLessThanOrEqual(Math.min(200, BASE_DELAY_MS * 2 ** (retry.attempt - 1)));
  });

  it('stops at once on a revoked key: one request, an auth error, no retry storm', async () => {
    const listId = emulator.createList('faults');
    const key = `revoked-${randomUUID()}`;
    emulator.addKey(key);
    emulator.revokeKey(key);
    const iterable = adapter(key);
    const error = await iterable.step(subscribe(listId, ['a@example.com']), {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error).toMatchObject({ code: 'provider_auth', statusCode: 401, providerCode: 'BadApiKey', attempts: 1 });
    expect(JSON.stringify(error)).not.toContain(key);
    expect((error as Error).message).not.toContain(key);
    expect(emulator.requests.counts.total).toBe(1);
  });

  it('does not retry a 400', async () => {
    const error = await adapter().step(subscribe(987_654, ['a@example.com']), {}).catch((caught: unknown) => caught);
    expect(isProviderErrorKind(error, 'permanent')).toBe(true);
    expect(error).toMatchObject({ code: 'provider_permanent', statusCode: 400, providerCode: 'BadParams', attempts: 1 });
    expect(emulator.requests.counts.total).toBe(1);
  });

  it('sends a subscription again when its answer was lost: it is a set operation', async () => {
    const listId = emulator.createList('faults');
    emulator.setFaults({ nextServerErrors: 0, lostResponseShare: 1, pathPrefix: '/api/lists/subscribe' });
    const iterable = adapter();
    const pending = iterable.step(subscribe(listId, ['lost@example.com']), {});
    await new Promise((resolve) => setTimeout(resolve, 30));
    emulator.clearFaults();
    expect(await pending).toEqual({ kind: 'done', rejects: [] });
    expect(emulator.listMembers(listId)).toEqual(['lost@example.com']);
  });

  it('never creates a list twice because an answer was lost: it looks before creating again', async () => {
    const registry = createMemoryTargetRegistry();
    // The creation's answer is lost: the fault starts once the lists were read and the claim taken.
    const losingRegistry: TargetRegistry = {
      ...registry,
      claim: async (...args) => {
        emulator.setFaults({ lostResponseShare: 1, pathPrefix: '/api/lists' });
        return registry.claim(...args);
      },
    };
    const losing = createProviderAdapter({
      provider: 'iterable',
      apiKey: emulator.apiKeys[0]!,
      baseUrl: emulator.baseUrl,
      targetRegistry: losingRegistry,
      http: { retry: { maxRetries: 8, baseDelayMs: BASE_DELAY_MS } },
    });
    const error = await losing.prepareTarget({ provider: 'iterable', listName: 'once' }).catch((caught: unknown) => caught);
    expect(isProviderErrorKind(error, 'transient')).toBe(true);
    expect(emulator.requests.entries().filter((entry) => entry.route === 'POST /api/lists')).toHaveLength(1);
    emulator.clearFaults();

    const again = createProviderAdapter({ provider: 'iterable', apiKey: emulator.apiKeys[0]!, baseUrl: emulator.baseUrl, targetRegistry: registry });
    const target = await again.prepareTarget({ provider: 'iterable', listName: 'once' });
    expect(emulator.listByName('once').map((list) => list.id)).toEqual([target.provider === 'iterable' && target.listId]);
    expect(emulator.requests.entries().filter((entry) => entry.route === 'POST /api/lists')).toHaveLength(1);
  });
});
