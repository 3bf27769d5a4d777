import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProviderAdapter, ProviderPermanentError, type ChunkOperation } from '../../../src/providers';

const EMULATOR = 'http://127.0.0.1:4567';

let agent: MockAgent;
beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
});
afterEach(async () => {
  await agent.close();
});

const operation: ChunkOperation = {
  kind: 'upsert',
  target: { provider: 'brevo', listId: 7 },
  records: ['ok@example.com', 'bad@example.invalid'].map((email) => ({ email, fields: {}, isNew: true })),
};

/** The adapter's report step with the URL a process answer named. */
async function readReport(url: string, baseUrl?: string) {
  const adapter = createProviderAdapter({ provider: 'brevo', apiKey: 'brevo-key-1234', http: { dispatcher: agent }, ...(baseUrl ? { baseUrl } : {}) });
  return await adapter.step(operation, { phase: 'invalid-emails', processId: 78, url });
}

describe('finding 8: Brevo report URLs are fetched only from Brevo', () => {
  it.each([
    ['plain http on a Brevo host', 'http://files.brevo.com/r.csv'],
    ['loopback', 'https://127.0.0.1/r.csv'],
    ['link-local metadata', 'https://169.254.169.254/latest/meta-data'],
    ['a private address', 'https://10.1.2.3/r.csv'],
    ['an IPv6 literal', 'https://[::1]/r.csv'],
    ['an integer IP', 'https://2130706433/r.csv'],
    ['another host', 'https://attacker.example/r.csv'],
    ['a look-alike host', 'https://brevo.com.attacker.example/r.csv'],
    ['credentials in the URL', 'https://user:pass@files.brevo.com/r.csv'],
    ['the emulator origin when it is not the configured one', `${EMULATOR}/files/r.csv`],
  ])('refuses %s with a permanent error and makes no request', async (_what, url) => {
    const error = await readReport(url).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderPermanentError);
    expect(error).toMatchObject({ providerCode: 'report_url_refused', attempts: 0 });
    // disableNetConnect would have answered any request with a connection error instead.
    expect(agent.pendingInterceptors()).toEqual([]);
  });

  it('reads a report on a Brevo host over https', async () => {
    agent.get('https://files.brevo.com').intercept({ path: '/process/78/invalid.csv', method: 'GET' }).reply(200, 'email\nbad@example.invalid\n');
    const result = await readReport('https://files.brevo.com/process/78/invalid.csv');
    expect(result).toMatchObject({ kind: 'done', rejects: [{ email: 'bad@example.invalid', code: 'provider_rejected' }] });
  });

  it('reads a report on the configured BREVO_BASE_URL origin (the emulators), http included', async () => {
    agent.get(EMULATOR).intercept({ path: '/files/processes/78/invalid_emails.csv', method: 'GET' }).reply(200, 'email\nbad@example.invalid\n');
    const result = await readReport(`${EMULATOR}/files/processes/78/invalid_emails.csv`, `${EMULATOR}/v3`);
    expect(result).toMatchObject({ kind: 'done', rejects: [{ email: 'bad@example.invalid' }] });
  });
});
