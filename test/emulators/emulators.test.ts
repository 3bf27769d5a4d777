import { afterEach, describe, expect, it } from 'vitest';
import { startEmulators, startIterableEmulator, type Emulators, type IterableEmulator, type IterableEmulatorOptions } from '../../dev/emulators/index';
import { call, field } from './test-http';

const KEY = 'shared-test-key';
let emulator: IterableEmulator | undefined;
let all: Emulators | undefined;

async function start(options: IterableEmulatorOptions = {}): Promise<IterableEmulator> {
  emulator = await startIterableEmulator({ apiKeys: [KEY], ...options });
  return emulator;
}

afterEach(async () => {
  await emulator?.close();
  await all?.close();
  emulator = undefined;
  all = undefined;
});

const createList = (target: IterableEmulator, name = 'vip', signal?: AbortSignal) =>
  call(`${target.baseUrl}/api/lists`, 'POST', { headers: { 'Api-Key': KEY }, json: { name }, signal });
const getLists = (target: IterableEmulator) => call(`${target.baseUrl}/api/lists`, 'GET', { headers: { 'Api-Key': KEY } });
const inspect = (target: IterableEmulator, method: string, path: string, json?: unknown) => call(`${target.origin}/_emulator/${path}`, method, { json });

describe('startEmulators', () => {
  it('starts all three with the base URLs the app settings take, and per-provider options', async () => {
    all = await startEmulators({ apiKeys: ['common'], omnisend: { apiKeys: ['omni-only'] } });
    expect(all.env).toEqual({
      ITERABLE_BASE_URL: all.iterable.origin,
      BREVO_BASE_URL: `${all.brevo.origin}/v3`,
      OMNISEND_BASE_URL: `${all.omnisend.origin}/api`,
    });
    expect(new Set([all.iterable.port, all.brevo.port, all.omnisend.port]).size).toBe(3);
    expect(all.iterable.apiKeys).toEqual(['common']);
    expect(all.omnisend.apiKeys).toEqual(['omni-only']);
    const brevo = await call(`${all.env.BREVO_BASE_URL}/account`, 'GET', { headers: { 'api-key': 'common' } });
    expect(brevo.status).toBe(200);
  });

  it('gives each provider its default key when none is configured', async () => {
    all = await startEmulators();
    expect([all.iterable.apiKeys, all.brevo.apiKeys, all.omnisend.apiKeys]).toEqual([
      ['iterable-emulator-key'],
      ['brevo-emulator-key'],
      ['omnisend-emulator-key'],
    ]);
  });
});

describe('fault knobs', () => {
  it('answers provider-shaped 5xx for a share of requests, then recovers when cleared', async () => {
    const iterable = await start();
    iterable.setFaults({ serverErrorShare: 1, serverErrorStatus: 503 });
    const failed = await getLists(iterable);
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({ msg: 'Service unavailable', code: 'GenericError', params: null });
    iterable.clearFaults();
    expect((await getLists(iterable)).status).toBe(200);
    expect(iterable.requests.counts).toMatchObject({ status5xx: 1, status2xx: 1 });
  });

  it('resets connections before handling: the client sees an error and nothing changes', async () => {
    const iterable = await start({ faults: { resetShare: 1 } });
    await expect(createList(iterable)).rejects.toThrow();
    expect(iterable.state.lists.size).toBe(0);
    expect(iterable.requests.entries().at(-1)).toMatchObject({ status: 0, outcome: 'reset' });
    expect(iterable.requests.counts.resets).toBe(1);
  });

  it('loses the response after handling: the client sees an error but the change happened', async () => {
    const iterable = await start({ faults: { lostResponseShare: 1 } });
    await expect(createList(iterable)).rejects.toThrow();
    expect(iterable.state.lists.size).toBe(1);
    expect(iterable.requests.entries().at(-1)).toMatchObject({ outcome: 'lost-response' });
  });

  it('answers slowly: a client with a shorter timeout gives up, and close() does not wait for it', async () => {
    const iterable = await start({ faults: { slowDelayMs: 30_000 } });
    await expect(createList(iterable, 'slow', AbortSignal.timeout(100))).rejects.toThrow();
    await iterable.close();
    expect(iterable.state.lists.size).toBe(0);
  });

  it('answers the provider 429 during a burst, whatever the rate', async () => {
    const iterable = await start({ unthrottled: true });
    iterable.setFaults({ throttleForMs: 60_000 });
    expect(iterable.faults.throttledUntil).toBeGreaterThan(Date.now());
    const throttled = await getLists(iterable);
    expect(throttled.status).toBe(429);
    expect(throttled.body).toMatchObject({ code: 'RateLimitExceeded' });
    iterable.setFaults({ throttleForMs: 0 });
    expect((await getLists(iterable)).status).toBe(200);
  });

  it('applies faults only under pathPrefix', async () => {
    const iterable = await start({ faults: { serverErrorShare: 1, pathPrefix: '/api/lists/subscribe' } });
    expect((await getLists(iterable)).status).toBe(200);
    const listId = iterable.createList('vip');
    const subscribe = await call(`${iterable.baseUrl}/api/lists/subscribe`, 'POST', {
      headers: { 'Api-Key': KEY },
      json: { listId, subscribers: [] },
    });
    expect(subscribe.status).toBeGreaterThanOrEqual(500);
  });
});

describe('request log', () => {
  it('records method, path, status, route and key id, never the key', async () => {
    const iterable = await start({ recordBodies: true });
    await createList(iterable);
    await call(`${iterable.baseUrl}/api/lists`, 'GET', { headers: { 'Api-Key': 'not-a-key' } });
    const [created, refused] = iterable.requests.entries();
    expect(created).toMatchObject({
      method: 'POST',
      path: '/api/lists',
      route: 'POST /api/lists',
      status: 200,
      keyId: 'key1',
      requestBody: { name: 'vip' },
      responseBody: { listId: expect.any(Number) as number },
      headers: { 'content-type': 'application/json' },
    });
    expect(refused).toMatchObject({ status: 401, keyId: null });
    expect(refused).not.toHaveProperty('requestBody');
    const printed = JSON.stringify([iterable.requests.entries(), iterable.summary()]);
    expect(printed).not.toContain(KEY);
    expect(printed).not.toContain('not-a-key');
  });

  it('redacts credentials sent in the query string', async () => {
    const iterable = await start();
    await call(`${iterable.baseUrl}/api/lists?api_key=${KEY}&page=2`, 'GET');
    expect(iterable.requests.entries()[0]).toMatchObject({ status: 401, query: 'api_key=%5Bredacted%5D&page=2' });
    expect(JSON.stringify(iterable.requests.entries())).not.toContain(KEY);
  });

  it('keeps bodies out of the log unless recordBodies is on, and bounds it', async () => {
    const iterable = await start({ requestLogSize: 2 });
    for (let i = 0; i < 3; i += 1) await createList(iterable, `list${i}`);
    const entries = iterable.requests.entries();
    expect(entries).toHaveLength(2);
    expect(entries[0]).not.toHaveProperty('requestBody');
    expect(iterable.requests.counts.total).toBe(3);
  });
});

describe('HTTP inspection endpoints', () => {
  it('serves the state summary without a key and without counting it', async () => {
    const iterable = await start();
    iterable.createList('vip');
    const state = await inspect(iterable, 'GET', 'state');
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({ provider: 'iterable', baseUrl: iterable.baseUrl, lists: [{ name: 'vip', memberCount: 0 }], requests: { total: 0 } });
  });

  it('changes faults and keys at runtime', async () => {
    const iterable = await start();
    const faults = await inspect(iterable, 'PUT', 'faults', { serverErrorShare: 1, serverErrorStatus: 500 });
    expect(faults.body).toMatchObject({ serverErrorShare: 1 });
    expect((await getLists(iterable)).status).toBe(500);
    await inspect(iterable, 'DELETE', 'faults');
    expect((await getLists(iterable)).status).toBe(200);
    expect((await inspect(iterable, 'PUT', 'faults', { serverErrorShare: 3 })).status).toBe(400);

    expect(field<string>(await inspect(iterable, 'DELETE', 'keys', { key: KEY }), 'keyId')).toBe('key1');
    expect((await getLists(iterable)).status).toBe(401);
    await inspect(iterable, 'POST', 'keys', { key: KEY });
    expect((await getLists(iterable)).status).toBe(200);
  });

  it('reports rate history and recent requests, and resets', async () => {
    const iterable = await start();
    await getLists(iterable);
    await getLists(iterable);
    const rates = await inspect(iterable, 'GET', 'rates?bucket=api&windowMs=60000');
    expect(rates.body).toMatchObject({ bucket: 'api', maxRequestsInAnyWindow: 2, limits: [{ requests: 5, windowMs: 1000 }], stats: { requests: 2 } });
    const requests = await inspect(iterable, 'GET', 'requests?limit=1');
    expect(requests.body).toMatchObject({ counts: { total: 2 }, requests: [{ route: 'GET /api/lists', status: 200 }] });
    await inspect(iterable, 'POST', 'reset');
    expect(iterable.requests.counts.total).toBe(0);
    expect(iterable.rates.stats('api').requests).toBe(0);
  });
});
