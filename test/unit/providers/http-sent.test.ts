import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ProviderHttpClient } from '../../../src/providers/http';

/**
 * `afterSend` runs when the request is written to its connection, which may be well after it was
 * handed to the pool: what the rate governor needs to count a request in the window it went in.
 * A loopback server and a pool of one connection, so that a second request waits for the first.
 */
let server: Server;
let origin: string;
const received = new Map<string, number>();
let slowAnsweredAt = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    received.set(request.url ?? '', Date.now());
    const answer = () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    if (request.url === '/slow') {
      setTimeout(() => {
        slowAnsweredAt = Date.now();
        answer();
      }, 300);
    } else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const schema = z.object({ ok: z.boolean() });

describe('afterSend', () => {
  it('runs once, when the request is written, not when it is handed to a busy connection', async () => {
    const dispatcher = new Agent({ connections: 1 });
    try {
      const client = new ProviderHttpClient({ provider: 'iterable', baseUrl: origin, credentialHeaders: {}, secret: 'k', dispatcher, retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
      const slow = client.request({ method: 'GET', path: '/slow', schema });
      await sleep(20);
      const sent: number[] = [];
      const handedAt = Date.now();
      const queued = client.request({ method: 'POST', path: '/queued', json: { a: 1 }, schema }, { afterSend: () => sent.push(Date.now()) });
      await Promise.all([slow, queued]);
      expect(sent).toHaveLength(1);
      // Written once the only connection was free again: after the slow answer, not when handed over.
      expect(sent[0]!).toBeGreaterThanOrEqual(slowAnsweredAt);
      expect(sent[0]! - handedAt).toBeGreaterThanOrEqual(200);
      expect(sent[0]!).toBeLessThanOrEqual(received.get('/queued')!);
    } finally {
      await dispatcher.close();
    }
  });

  it('runs before the provider reads a request sent on a free connection', async () => {
    const dispatcher = new Agent({ connections: 1 });
    try {
      const client = new ProviderHttpClient({ provider: 'iterable', baseUrl: origin, credentialHeaders: {}, secret: 'k', dispatcher });
      let sentAt: number | undefined;
      await client.request({ method: 'GET', path: '/free', schema }, { afterSend: () => (sentAt = Date.now()) });
      expect(sentAt).toBeDefined();
      expect(sentAt!).toBeLessThanOrEqual(received.get('/free')!);
    } finally {
      await dispatcher.close();
    }
  });
});
