import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { defineHttp, defineQueue, defineTimer, json, type FunctionDefinition } from '../../../src/app/definitions';
import { createLogger } from '../../../src/log';
import { parseHostJson } from '../../../dev/local/host-json';
import { startLocalHost, type RunningHost } from '../../../dev/local/host';
import { poisonQueueName } from '../../../src/storage/names';
import { encodeMessage } from '../../../src/storage/queue-messages';
import { createTestContext, type TestContext } from '../../support/context';

const hostSettings = parseHostJson({
  version: '2.0',
  extensions: {
    queues: { batchSize: 2, newBatchThreshold: 1, maxDequeueCount: 3, visibilityTimeout: '00:00:00', maxPollingInterval: '00:00:00.2' },
  },
});

let host: RunningHost | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

async function start(context: TestContext, definitions: FunctionDefinition[], env: Record<string, string> = {}, routePrefix?: string) {
  host = await startLocalHost({
    definitions,
    hostSettings: routePrefix === undefined ? hostSettings : { ...hostSettings, routePrefix },
    env: { ...context.env, ...env },
    storage: context.storage,
    log: createLogger(() => undefined),
    port: 0,
    hostname: '127.0.0.1',
  });
  return host;
}

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutInMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('local host: queue functions', () => {
  it('retries a failing message and moves it to <queue>-poison after maxDequeueCount tries', async () => {
    const context = await createTestContext();
    const queueName = context.storage.names.queues.plan;
    const seen: number[] = [];
    const failing = defineQueue('failing', { queueName: 'export-plan' }, async (_message, invocation) => {
      seen.push(Number(invocation.triggerMetadata?.dequeueCount));
      throw new Error('always fails');
    });
    await start(context, [failing]);
    await context.storage.queue(queueName).sendMessage(encodeMessage({ hello: 'world' }));

    const poison = context.storage.queue(poisonQueueName(queueName));
    const poisoned = await waitFor(async () => {
      const peeked = await poison.peekMessages().catch(() => undefined);
      return peeked?.peekedMessageItems[0];
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(JSON.parse(Buffer.from(poisoned.messageText, 'base64').toString())).toEqual({ hello: 'world' });
    const remaining = await context.storage.queue(queueName).getProperties();
    expect(remaining.approximateMessagesCount).toBe(0);
  });

  it('hands the handler the decoded JSON and deletes the message when it succeeds', async () => {
    const context = await createTestContext();
    const queueName = context.storage.names.queues.chunksIterable;
    const received: unknown[] = [];
    const ok = defineQueue('ok', { queueName: 'export-chunks-iterable' }, async (message) => {
      received.push(message);
    });
    await start(context, [ok]);
    await context.storage.queue(queueName).sendMessage(encodeMessage({ chunk: 7 }));
    await waitFor(() => (received.length === 1 ? true : undefined));
    await waitFor(async () => ((await context.storage.queue(queueName).peekMessages()).peekedMessageItems.length === 0 ? true : undefined));
    expect(received).toEqual([{ chunk: 7 }]);
    const poison = await context.storage.queue(poisonQueueName(queueName)).exists();
    if (poison) expect((await context.storage.queue(poisonQueueName(queueName)).peekMessages()).peekedMessageItems).toHaveLength(0);
  });

  it('runs at most batchSize + newBatchThreshold messages of one queue at once, as the Functions host does', async () => {
    const context = await createTestContext();
    const queueName = context.storage.names.queues.chunksBrevo;
    let active = 0;
    let peak = 0;
    let done = 0;
    const slow = defineQueue('slow', { queueName: 'export-chunks-brevo' }, async () => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((resolve) => setTimeout(resolve, 100));
      active -= 1;
      done += 1;
    });
    await Promise.all(Array.from({ length: 8 }, (_, i) => context.storage.queue(queueName).sendMessage(encodeMessage({ i }))));
    await start(context, [slow]);
    await waitFor(() => (done === 8 ? true : undefined));
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(hostSettings.queues.batchSize + hostSettings.queues.newBatchThreshold);
  });
});

describe('local host: HTTP functions', () => {
  it('serves a definition on its route under /api with route parameters and the query string', async () => {
    const context = await createTestContext();
    const echo = defineHttp('echo', { route: 'things/{thingId}/parts/{partId?}', methods: ['GET', 'POST'] }, async (request) =>
      json(200, { params: request.params, q: request.query.get('q'), body: request.method === 'POST' ? await request.text() : null }),
    );
    const running = await start(context, [echo]);

    const get = await fetch(`${running.url}/api/things/a%20b/parts/7?q=x`);
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ params: { thingId: 'a b', partId: '7' }, q: 'x', body: null });

    const post = await fetch(`${running.url}/api/things/t1/parts`, { method: 'POST', body: 'streamed body' });
    expect(await post.json()).toEqual({ params: { thingId: 't1' }, q: null, body: 'streamed body' });

    expect((await fetch(`${running.url}/api/things`)).status).toBe(404);
    expect((await fetch(`${running.url}/api/things/t1`, { method: 'DELETE' })).status).toBe(404);
  });

  it('prefers literal segments over parameters', async () => {
    const context = await createTestContext();
    const byId = defineHttp('byId', { route: 'runs/{runId}', methods: ['GET'] }, async () => json(200, { which: 'byId' }));
    const literal = defineHttp('literal', { route: 'runs/latest', methods: ['GET'] }, async () => json(200, { which: 'literal' }));
    const running = await start(context, [byId, literal]);
    expect(await (await fetch(`${running.url}/api/runs/latest`)).json()).toEqual({ which: 'literal' });
    expect(await (await fetch(`${running.url}/api/runs/r1`)).json()).toEqual({ which: 'byId' });
  });

  it('gives a catch-all route whatever no other route takes, the empty path included', async () => {
    const context = await createTestContext();
    const byId = defineHttp('byId', { route: 'api/runs/{runId}', methods: ['GET'] }, async (request) => json(200, { which: 'byId', params: request.params }));
    const rest = defineHttp('rest', { route: '{*path}', methods: ['GET'] }, async (request) => json(200, { which: 'rest', params: request.params }));
    const running = await start(context, [rest, byId], {}, '');
    expect(await (await fetch(`${running.url}/api/runs/r1`)).json()).toEqual({ which: 'byId', params: { runId: 'r1' } });
    expect(await (await fetch(`${running.url}/`)).json()).toEqual({ which: 'rest', params: { path: '' } });
    expect(await (await fetch(`${running.url}/exports/a%20b/runs`)).json()).toEqual({ which: 'rest', params: { path: 'exports/a b/runs' } });
    expect(await (await fetch(`${running.url}/api/runs/r1/more`)).json()).toEqual({ which: 'rest', params: { path: 'api/runs/r1/more' } });
    expect((await fetch(`${running.url}/api/runs/r1`, { method: 'POST' })).status).toBe(404);
  });

  it('listens on the loopback interface unless told otherwise', async () => {
    const context = await createTestContext();
    const running = await startLocalHost({ definitions: [], hostSettings, env: context.env, storage: context.storage, log: createLogger(() => undefined), port: 0 });
    host = running;
    expect(running.url).toBe(`http://127.0.0.1:${running.port}`);
    expect((await fetch(`http://127.0.0.1:${running.port}/api/health`)).status).toBe(404);
    // This machine's own address on another interface, if it has one: nothing answers there.
    const other = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && address.family === 'IPv4' && !address.internal);
    if (other) await expect(fetch(`http://${other.address}:${running.port}/api/health`)).rejects.toThrow();
  });
});

describe('local host: timer functions', () => {
  it('fires on a schedule given through %SETTING%', async () => {
    const context = await createTestContext();
    const ticks: { isPastDue: boolean; next: string }[] = [];
    const tick = defineTimer('tick', { schedule: '%TEST_SCHEDULE%' }, async (timer) => {
      ticks.push({ isPastDue: timer.isPastDue, next: timer.scheduleStatus?.next ?? '' });
    });
    await start(context, [tick], { TEST_SCHEDULE: '* * * * * *' });
    await waitFor(() => (ticks.length >= 2 ? true : undefined), 5_000);
    expect(new Date(ticks[0]!.next).getUTCMilliseconds()).toBe(0);
  });

  it('refuses to start when the schedule names a missing setting', async () => {
    const context = await createTestContext();
    const tick = defineTimer('tick', { schedule: '%NO_SUCH_SETTING%' }, async () => undefined);
    await expect(start(context, [tick])).rejects.toThrow(/NO_SUCH_SETTING/);
  });
});
