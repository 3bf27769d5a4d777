import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeSharedDispatcher,
  createMemoryTargetRegistry,
  createProviderAdapter,
  createRateGovernor,
  type ChunkOperation,
  type GovernorAccount,
  type RateGovernor,
} from '../../../src/providers';
import { startIterableEmulator, type IterableEmulator } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { deliver } from './driver';

/**
 * The governor against the real Table storage (Azurite) and the Iterable emulator, with time scaled
 * by `rateScale` on both sides (limits multiplied, windows unchanged).
 */
const SCALE = 5;
const LIMIT = 5 * SCALE;
const WINDOW_MS = 1_000;

let context: TestContext;
let emulator: IterableEmulator;

beforeAll(async () => {
  context = await createTestContext();
  emulator = await startIterableEmulator({ rateScale: SCALE });
});

afterAll(async () => {
  await emulator?.close();
  await closeSharedDispatcher();
});

function governorTable() {
  return context.storage.table(context.storage.names.tables.governor);
}

/** One governor per host: separate instances share nothing but the table. */
function workerGovernor(): RateGovernor {
  return createRateGovernor({ table: governorTable(), rateScale: SCALE });
}

function account(): GovernorAccount {
  return { connectionId: `c-${randomUUID()}`, provider: 'iterable' };
}

function iterable(defaultThrottleWaitMs = 1_000 / SCALE) {
  return createProviderAdapter({
    provider: 'iterable',
    apiKey: emulator.apiKeys[0]!,
    baseUrl: emulator.baseUrl,
    targetRegistry: createMemoryTargetRegistry(),
    http: { defaultThrottleWaitMs, retry: { baseDelayMs: 5 } },
  });
}

function subscribe(listId: number, emails: string[]): ChunkOperation {
  return {
    kind: 'upsert',
    target: { provider: 'iterable', listId, listName: 'governed' },
    records: emails.map((email) => ({ email, fields: {}, isNew: true })),
  };
}

/**
 * Eight workers on two hosts (a governor each) subscribe one email per request to `listId` for
 * `forMs`; answers how many they sent.
 */
async function subscribeUntil(adapter: ReturnType<typeof iterable>, shared: GovernorAccount, listId: number, prefix: string, forMs: number): Promise<number> {
  const hosts = [workerGovernor(), workerGovernor()];
  const deadline = Date.now() + forMs;
  let sent = 0;
  await Promise.all(
    Array.from({ length: 8 }, async (_, worker) => {
      const governor = hosts[worker % 2]!;
      for (let n = 0; Date.now() < deadline; n += 1) {
        await deliver(adapter, governor, shared, subscribe(listId, [`${prefix}${worker}-${n}@example.com`]));
        sent += 1;
      }
    }),
  );
  return sent;
}

/**
 * The rate the requests kept up, measured so that bursts do not skew it: a client that uses a
 * sliding window of LIMIT per WINDOW_MS fully sends request k exactly WINDOW_MS after request
 * k - LIMIT, so the rate is LIMIT over the mean of those gaps (where the run starts and stops in
 * the middle of a burst does not matter).
 */
function achievedPerSecond(startedAt: number[]): number {
  const times = [...startedAt].sort((a, b) => a - b);
  let gaps = 0;
  for (let k = LIMIT; k < times.length; k += 1) gaps += times[k]! - times[k - LIMIT]!;
  return (LIMIT * 1_000) / (gaps / (times.length - LIMIT));
}

describe('eight workers on two hosts sharing one Iterable account', () => {
  it('never exceed the limit in any window and use at least 95% of it', async () => {
    const adapter = iterable();
    await adapter.verifyCredentials(); // a warm connection, as a running host has
    emulator.reset();
    const listId = emulator.createList('governed');
    const shared = account();
    const sent = await subscribeUntil(adapter, shared, listId, 'w', 30_000 / SCALE); // 30 s of scaled time

    expect(emulator.requests.counts.status429).toBe(0);
    expect(emulator.rates.maxRequestsInAnyWindow('api', WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    expect(emulator.rates.stats('api').requests).toBe(sent);
    expect(emulator.listMembers(listId)).toHaveLength(sent);
    expect(achievedPerSecond(emulator.requests.entries().map((entry) => entry.startedAt))).toBeGreaterThanOrEqual(0.95 * LIMIT);
  });

  it('never exceed the limit in any window while the process stalls between grants and sends', async () => {
    const adapter = iterable();
    emulator.reset();
    await adapter.verifyCredentials(); // a warm connection; not governed, so on a fresh window
    emulator.reset();
    const listId = emulator.createList('stalled');
    const shared = account();
    // A busy process: now and then (every 0.3-0.9 s) the event loop is held for 60 ms, so grants whose
    // slots fall in a stall are used (and reach the provider) up to 60 ms late, far beyond the margin.
    let stalling = true;
    const stall = () => {
      const until = performance.now() + 60;
      while (performance.now() < until);
      if (stalling) stalls = setTimeout(stall, 300 + Math.random() * 600);
    };
    let stalls = setTimeout(stall, 300);
    let sent: number;
    try {
      sent = await subscribeUntil(adapter, shared, listId, 's', 20_000 / SCALE);
    } finally {
      stalling = false;
      clearTimeout(stalls);
    }
    expect(emulator.rates.maxRequestsInAnyWindow('api', WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    expect(emulator.requests.counts.status429).toBe(0);
    expect(emulator.listMembers(listId)).toHaveLength(sent);
    // The stalls cost time, not the limit: still most of it is used.
    expect(achievedPerSecond(emulator.requests.entries().map((entry) => entry.startedAt))).toBeGreaterThanOrEqual(0.8 * LIMIT);
  });

  it('pause together through a 429 storm, and lose nothing', async () => {
    emulator.reset();
    const listId = emulator.createList('storm');
    const shared = account();
    // Iterable's 429 names no wait: the first pause is this default, and it doubles while 429s go on.
    const adapter = iterable(400);
    const pauses: Array<{ atMs: number; untilMs: number }> = [];
    const queue = Array.from({ length: 100 }, (_, i) => [`s${i}a@example.com`, `s${i}b@example.com`]);
    const stormFromMs = Date.now() + 300;
    const storm = sleep(300).then(() => emulator.setFaults({ throttleForMs: 10_000 / SCALE }));
    const hosts = [workerGovernor(), workerGovernor()];
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        const governor = hosts[worker % 2]!;
        for (let emails = queue.shift(); emails; emails = queue.shift()) {
          await deliver(adapter, governor, shared, subscribe(listId, emails), { onPause: (pause) => pauses.push(pause) });
        }
      }),
    );
    await storm;

    expect(emulator.listMembers(listId)).toHaveLength(200);
    expect(emulator.requests.counts.status429).toBeGreaterThan(0);
    expect(pauses.length).toBeGreaterThan(0);
    // Once a pause is recorded, no worker starts a request before it ends, apart from requests in
    // flight and slots the other host reserved before it read the pause (at most 100 ms ahead).
    const inFlightMs = 150;
    const started = emulator.requests.entries().map((entry) => entry.startedAt);
    for (const pause of pauses) {
      const during = started.filter((at) => at > pause.atMs + inFlightMs && at < pause.untilMs - 2);
      expect(during, `requests during the pause ${pause.atMs}..${pause.untilMs}`).toEqual([]);
    }
    // Iterable names no wait, so the shared pause doubled while the 429s went on.
    expect(Math.max(...pauses.map((pause) => pause.untilMs - pause.atMs))).toBeGreaterThan(700);
    // Workers that ignored the pause would have gone on at the full rate for the whole storm.
    const stormMs = 10_000 / SCALE;
    const duringStorm = started.filter((at) => at >= stormFromMs && at < stormFromMs + stormMs).length;
    expect(duringStorm).toBeLessThanOrEqual((LIMIT * stormMs) / 1_000 / 2);
  });
});

describe('the governor on its own', () => {
  it('grants exactly the limit to many concurrent takers within one window', async () => {
    const governors = Array.from({ length: 4 }, () =>
      createRateGovernor({ table: governorTable(), safetyMarginMs: 2_000 }),
    );
    const shared: GovernorAccount = { ...account(), rateLimits: { api: { limit: 5, windowMs: 60_000 } } };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => governors[i % 4]!.take(shared, 'api')));
    expect(results.filter((result) => result.granted)).toHaveLength(5);
    const denied = results.filter((result) => !result.granted);
    for (const result of denied) if (!result.granted) expect(result.waitMs).toBeGreaterThan(50_000);
  });

  it('tells a caller how long to wait while the account is paused', async () => {
    const governor = workerGovernor();
    const shared = account();
    const untilMs = await governor.pause(shared, Date.now() + 5_000);
    const result = await workerGovernor().take(shared, 'api');
    expect(result.granted).toBe(false);
    if (!result.granted) expect(result.waitMs).toBeGreaterThan(4_000);
    expect(untilMs).toBeGreaterThan(Date.now() + 4_000);
  });

  it('doubles a default pause when a 429 follows soon after the last one ended', async () => {
    let nowMs = 1_000_000;
    const governor = createRateGovernor({ table: governorTable(), now: () => nowMs });
    const shared = account();
    const first = await governor.pause(shared, nowMs + 1_000, { escalate: true });
    expect(first - nowMs).toBe(1_000);
    // Another worker's 429 from the same burst does not extend it.
    expect(await governor.pause(shared, nowMs + 1_000 + 10, { escalate: true })).toBe(first);
    nowMs = first + 100;
    const second = await governor.pause(shared, nowMs + 1_000, { escalate: true });
    expect(second - nowMs).toBe(2_000);
    nowMs = second + 10_000;
    const third = await governor.pause(shared, nowMs + 1_000, { escalate: true });
    expect(third - nowMs).toBe(1_000);
  });

  it('never shortens a pause in force', async () => {
    const governor = workerGovernor();
    const shared = account();
    const long = await governor.pause(shared, Date.now() + 10_000);
    expect(await governor.pause(shared, Date.now() + 1_000)).toBe(long);
  });

  it("pauses one bucket when Brevo's headers say its window is exhausted", async () => {
    const governor = createRateGovernor({ table: governorTable() });
    const brevo: GovernorAccount = { connectionId: `c-${randomUUID()}`, provider: 'brevo' };
    await governor.observe(brevo, { bucket: 'contacts', remaining: 3, resetInMs: 1_000 });
    expect(await governor.take(brevo, 'contacts')).toEqual({ granted: true });
    await governor.observe(brevo, { bucket: 'contacts', remaining: 0, resetInMs: 30_000 });
    const contacts = await governor.take(brevo, 'contacts');
    expect(contacts.granted).toBe(false);
    if (!contacts.granted) expect(contacts.waitMs).toBeGreaterThan(25_000);
    expect(await governor.take(brevo, 'other')).toEqual({ granted: true });
  });

  it('uses a grant whose table write came too late and counts it from when it was used', async () => {
    const start = Date.now();
    let clock = start;
    // Every reading of the clock jumps 100 ms, so the write ends well after the slot it reserved.
    const table = governorTable();
    const governor = createRateGovernor({ table, now: () => (clock += 100), safetyMarginMs: 8 });
    const iterable: GovernorAccount = { connectionId: `c-${randomUUID()}`, provider: 'iterable' };
    expect(await governor.take(iterable, 'api')).toEqual({ granted: true });
    const counted = async () => {
      const entity = await table.getEntity<{ state: string }>(iterable.connectionId, 'rate');
      return (JSON.parse(entity.state) as { counters: Record<string, [number, number][]> }).counters.api ?? [];
    };
    // The slot was chosen at the second reading (start + 200, plus the write lead); the grant was
    // used readings later: it is moved there, still one grant.
    await expect.poll(async () => (await counted())[0]?.[0] ?? 0, { timeout: 2_000 }).toBeGreaterThanOrEqual(start + 400);
    expect((await counted()).reduce((sum, [, n]) => sum + n, 0)).toBe(1);
  });

  it('draws an Omnisend tag call from both the tags and the brand budget, and keeps brand room for tags', async () => {
    const governor = createRateGovernor({ table: governorTable(), safetyMarginMs: 2_000 });
    const omnisend: GovernorAccount = {
      connectionId: `c-${randomUUID()}`,
      provider: 'omnisend',
      rateLimits: { brand: { limit: 4, windowMs: 60_000 }, tags: { limit: 2, windowMs: 60_000 } },
    };
    expect(await governor.take(omnisend, 'tags')).toEqual({ granted: true });
    expect(await governor.take(omnisend, 'brand')).toEqual({ granted: true });
    expect(await governor.take(omnisend, 'brand')).toEqual({ granted: true });
    // Batches and status reads may use the brand limit minus the tags limit: the rest is the tags'.
    expect((await governor.take(omnisend, 'brand')).granted).toBe(false);
    expect(await governor.take(omnisend, 'tags')).toEqual({ granted: true });
    expect((await governor.take(omnisend, 'tags')).granted).toBe(false);
  });

  it('leases tokens in batches when the rate is high, one table write per batch', async () => {
    const governor = createRateGovernor({ table: governorTable(), rateScale: 1_000, safetyMarginMs: 2_000, leaseMs: 1_000 });
    const shared = account();
    const table = governorTable();
    let writes = 0;
    const original = table.updateEntity.bind(table);
    const originalCreate = table.createEntity.bind(table);
    table.updateEntity = (async (...args: Parameters<typeof original>) => {
      writes += 1;
      return original(...args);
    });
    table.createEntity = (async (...args: Parameters<typeof originalCreate>) => {
      writes += 1;
      return originalCreate(...args);
    });
    try {
      for (let i = 0; i < 200; i += 1) expect(await governor.take(shared, 'api')).toEqual({ granted: true });
    } finally {
      table.updateEntity = original;
      table.createEntity = originalCreate;
    }
    expect(writes).toBeLessThan(10);
  });

  it('refuses to take more tokens than the smallest limit could ever grant', async () => {
    await expect(workerGovernor().take(account(), 'api', { count: 6 * SCALE })).rejects.toThrow(RangeError);
  });

  it('grants a bucket without limits without touching the table', async () => {
    const governor = createRateGovernor({ table: context.storage.table('doesnotexist') });
    expect(await governor.take({ connectionId: 'x', provider: 'brevo' }, 'files')).toEqual({ granted: true });
  });
});
