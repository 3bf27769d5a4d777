import { connect } from 'node:net';
import { HttpResponse, InvocationContext } from '@azure/functions';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectionsCreate } from '../../../functions/connections-create';
import { MAX_JSON_BODY_BYTES, readJsonBody } from '../../../src/api/validation';
import { defineHttp, json } from '../../../src/app/definitions';
import { createLogger } from '../../../src/log';
import { parseHostJson } from '../../../dev/local/host-json';
import { startLocalHost, type RunningHost } from '../../../dev/local/host';
import { createTestContext } from '../../support/context';
import { ADMIN } from '../../support/http';
import { countingBody, streamingRequest } from '../../support/streaming';

const CHUNK_BYTES = 64 * 1024;
const TEN_MB = 10 * 1024 * 1024;

let host: RunningHost | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

describe('finding 3: the JSON body limit is checked while the body streams in', () => {
  it('answers 413 to a streamed 10 MB JSON body without Content-Length after reading at most the limit plus one chunk', async () => {
    await createTestContext();
    const body = countingBody(TEN_MB, CHUNK_BYTES);
    const request = streamingRequest({
      method: 'POST',
      url: 'http://localhost:7071/api/connections',
      headers: { 'content-type': 'application/json' },
      principal: ADMIN,
      body: body.stream,
    });
    expect(request.headers.get('content-length')).toBeNull();

    const result = await connectionsCreate.options.handler(request, new InvocationContext({ functionName: connectionsCreate.name }));
    const response = result instanceof HttpResponse ? result : new HttpResponse(result);

    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(body.pulledBytes()).toBeGreaterThan(MAX_JSON_BODY_BYTES);
    expect(body.pulledBytes()).toBeLessThanOrEqual(MAX_JSON_BODY_BYTES + 2 * CHUNK_BYTES);
  });

  it('the local host delivers that 413 to a client still sending, then closes the connection without a reset', async () => {
    const context = await createTestContext();
    const echo = defineHttp('echo', { route: 'echo', methods: ['POST'] }, async (request) => json(200, await readJsonBody(request, z.unknown())));
    host = await startLocalHost({
      definitions: [echo],
      hostSettings: parseHostJson({ version: '2.0' }),
      env: context.env,
      storage: context.storage,
      log: createLogger(() => undefined),
      port: 0,
      hostname: '127.0.0.1',
      enable: { queues: false, timers: false },
    });

    const outcome = await sendChunkedBody(host.port, '/api/echo', TEN_MB);

    expect(outcome.error).toBeUndefined();
    expect(outcome.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(outcome.response).toMatch(/connection: close/i);
    expect(outcome.response).toContain('payload_too_large');
  });
});

/** A client that writes the whole chunked body before it cares about the answer (as many do). */
function sendChunkedBody(port: number, path: string, totalBytes: number): Promise<{ response: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    socket.on('data', (data) => (response += data.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ response, error: error.code ?? error.message }));
    socket.on('close', () => resolve({ response }));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.alloc(CHUNK_BYTES, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (sent < totalBytes) {
        sent += chunk.length;
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        if (!socket.write('\r\n')) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.write('0\r\n\r\n');
    };
    pump();
  });
}
