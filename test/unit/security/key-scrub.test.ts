import { inspect } from 'node:util';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ProviderHttpClient } from '../../../src/providers/http';

const ORIGIN = 'https://api.example.test';
const KEY = 'xkeysib-3f9a1c77d2e04b5a9c61e8f0b2d4a6c8e1f3a5b7-Zq8RtY2pLm';

let agent: MockAgent;
beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
});
afterEach(async () => {
  await agent.close();
});

const client = () =>
  new ProviderHttpClient({
    provider: 'brevo',
    baseUrl: `${ORIGIN}/v3`,
    credentialHeaders: { 'api-key': KEY },
    secret: KEY,
    dispatcher: agent,
    retry: { maxRetries: 0 },
  });

/** Every way an error reaches a run's `reason`, a log line or an answer. */
async function errorTexts(reply: { status: number; body: string; contentType: string }): Promise<string[]> {
  agent.get(ORIGIN).intercept({ path: '/v3/thing', method: 'GET' }).reply(reply.status, reply.body, { headers: { 'content-type': reply.contentType } });
  const error = await client()
    .request({ method: 'GET', path: '/thing', schema: z.object({ ok: z.boolean() }) })
    .then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(Error);
  const provider = error as Error & { providerMessage?: string; providerCode?: string };
  return [provider.message, provider.stack ?? '', String(provider.providerMessage), String(provider.providerCode), JSON.stringify(provider), inspect(provider)];
}

function leakedPieces(texts: readonly string[]): string[] {
  const pieces: string[] = [];
  for (let start = 0; start + 8 <= KEY.length; start++) {
    const piece = KEY.slice(start, start + 8);
    if (texts.some((text) => text.includes(piece))) pieces.push(piece);
  }
  return pieces;
}

const OFFSETS = [...Array.from({ length: 21 }, (_, i) => 190 + i), ...Array.from({ length: 21 }, (_, i) => 490 + i)];

describe('finding 6: the key is scrubbed from provider errors before they are cut', () => {
  it.each(OFFSETS)('leaves no 8 characters of the key in any error when a text answer carries it at offset %i', async (offset) => {
    const body = `${'e'.repeat(offset)}${KEY} was refused; ${'z'.repeat(600)}`;
    expect(leakedPieces(await errorTexts({ status: 400, body, contentType: 'text/plain' }))).toEqual([]);
  });

  it.each(OFFSETS)('leaves no 8 characters of the key in any error when a JSON message carries it at offset %i', async (offset) => {
    const message = `${'m'.repeat(offset)}${KEY} is not valid ${'z'.repeat(600)}`;
    const body = JSON.stringify({ code: 'unauthorized', message });
    expect(leakedPieces(await errorTexts({ status: 400, body, contentType: 'application/json' }))).toEqual([]);
  });

  it('scrubs a key the provider echoes URL-escaped, and one in the error code', async () => {
    const body = JSON.stringify({ code: `${'c'.repeat(195)}${KEY}`, message: `key=${encodeURIComponent(KEY)}` });
    expect(leakedPieces(await errorTexts({ status: 422, body, contentType: 'application/json' }))).toEqual([]);
  });
});
