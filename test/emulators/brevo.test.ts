import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BREVO_REPORT_KINDS, startBrevoEmulator, type BrevoEmulator, type BrevoEmulatorOptions } from '../../dev/emulators/brevo';
import { call, field } from './test-http';

const KEY = 'brevo-test-key';
let emulator: BrevoEmulator | undefined;
let receiver: Server | undefined;

async function start(options: BrevoEmulatorOptions = {}): Promise<BrevoEmulator> {
  emulator = await startBrevoEmulator({ apiKeys: [KEY], asyncDelayMs: 20, ...options });
  return emulator;
}

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  receiver = undefined;
});

function api(target: BrevoEmulator, method: string, path: string, json?: unknown, key = KEY) {
  return call(`${target.baseUrl}${path}`, method, { headers: { 'api-key': key }, json });
}

const FLAGS = { updateExistingContacts: true, emptyContactsAttributes: false, disableNotification: true };

async function importRows(target: BrevoEmulator, jsonBody: unknown[], extra: Record<string, unknown> = {}) {
  return api(target, 'POST', '/contacts/import', { listIds: [2], ...FLAGS, jsonBody, ...extra });
}

describe('Brevo emulator: account and lists', () => {
  it('serves a base URL ending in /v3 and verifies keys with GET /account', async () => {
    const brevo = await start();
    expect(brevo.baseUrl).toBe(`${brevo.origin}/v3`);
    const ok = await api(brevo, 'GET', '/account');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ email: expect.any(String) as string, plan: expect.any(Array) as unknown[] });
    const wrong = await api(brevo, 'GET', '/account', undefined, 'wrong');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({ code: 'unauthorized', message: 'Key not found' });
  });

  it('shows an existing list and answers 404 document_not_found for a missing one', async () => {
    const brevo = await start();
    const list = await api(brevo, 'GET', '/contacts/lists/2');
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ id: 2, name: 'Your first list', totalSubscribers: 0, uniqueSubscribers: 0 });
    brevo.deleteList(2);
    const missing = await api(brevo, 'GET', '/contacts/lists/2');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ code: 'document_not_found', message: 'List ID does not exist' });
  });

  it('creates lists with POST /contacts/lists', async () => {
    const brevo = await start();
    const created = await api(brevo, 'POST', '/contacts/lists', { name: 'vip', folderId: 1 });
    expect(created.status).toBe(201);
    expect(brevo.state.lists.get(field<number>(created, 'id'))?.name).toBe('vip');
  });
});

describe('Brevo emulator: import', () => {
  it('reports a row whose SMS another contact holds in duplicate_phone_id, and does not import it', async () => {
    const brevo = await start({ asyncDelayMs: 20 });
    await importRows(brevo, [{ email: 'first@example.com', attributes: { SMS: '+33612345678' } }]);
    await brevo.settled();
    const accepted = await importRows(brevo, [
      { email: 'clash@example.com', attributes: { SMS: '+33 6 12 34 56 78' } },
      { email: 'first@example.com', attributes: { SMS: '+33612345678' } },
      { email: 'fine@example.com', attributes: { SMS: '+33700000000' } },
    ]);
    await brevo.settled();
    const processId = field<number>(accepted, 'processId');
    const done = await api(brevo, 'GET', `/processes/${processId}`);
    const info = (done.body as { info: { import: Record<string, string | null> } }).info.import;
    expect(info.duplicate_phone_id).toBe(brevo.reportUrl(processId, 'duplicate_phone_id'));
    expect(info.invalid_emails).toBeNull();
    expect((await call(info.duplicate_phone_id!, 'GET')).text).toBe('EMAIL;SMS\nclash@example.com;+33 6 12 34 56 78\n');
    expect(brevo.state.contacts.has('clash@example.com')).toBe(false);
    expect(brevo.listMembers(2).sort()).toEqual(['fine@example.com', 'first@example.com']);
  });

  it('answers the documented running statuses, lists processes newest first, and cancels one on request', async () => {
    const brevo = await start({ asyncDelayMs: 200, runningStatus: 'processing' });
    const first = field<number>(await importRows(brevo, [{ email: 'a@example.com' }]), 'processId');
    const second = field<number>(await importRows(brevo, [{ email: 'b@example.com' }]), 'processId');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(field<string>(await api(brevo, 'GET', `/processes/${first}`), 'status')).toBe('processing');
    expect(brevo.cancelProcess(second)).toBe(true);
    const listed = await api(brevo, 'GET', '/processes?limit=1&sort=desc');
    expect(listed.body).toEqual({ count: 2, processes: [{ id: second, name: 'IMPORTUSER', status: 'cancelled' }] });
    await brevo.settled();
    expect(brevo.listMembers(2)).toEqual(['a@example.com']);
    expect((await api(brevo, 'GET', '/processes?limit=51')).status).toBe(400);
  });

  it('accepts an import with 202, finishes it after the delay and applies contacts only then', async () => {
    const brevo = await start({ asyncDelayMs: 200 });
    const accepted = await importRows(brevo, [
      { email: 'Ann@Example.com', attributes: { FIRSTNAME: 'Ann', LASTNAME: 'Lee', SMS: '+33612345678', LOYALTY: 'gold' } },
      { email: 'bob@example.com' },
    ]);
    expect(accepted.status).toBe(202);
    const processId = field<number>(accepted, 'processId');
    const early = await api(brevo, 'GET', `/processes/${processId}`);
    expect(['queued', 'in_process']).toContain(field<string>(early, 'status'));
    expect(early.body).not.toHaveProperty('info');
    expect(brevo.state.contacts.size).toBe(0);

    await brevo.settled();
    const done = await api(brevo, 'GET', `/processes/${processId}`);
    expect(done.body).toEqual({
      id: processId,
      name: 'IMPORTUSER',
      status: 'completed',
      info: { import: Object.fromEntries(BREVO_REPORT_KINDS.map((kind) => [kind, null])) },
    });
    expect(brevo.listMembers(2).sort()).toEqual(['ann@example.com', 'bob@example.com']);
    expect(brevo.state.contacts.get('ann@example.com')).toEqual({ FIRSTNAME: 'Ann', LASTNAME: 'Lee', SMS: '+33612345678' });
    expect(brevo.state.ignoredAttributes.get('LOYALTY')).toBe(1);
    expect(brevo.state.processes.get(processId)?.flags).toEqual({ ...FLAGS, emailBlacklist: undefined, smsBlacklist: undefined });
  });

  it('reports invalid emails only through the CSV named in the process info', async () => {
    const brevo = await start();
    const accepted = await importRows(brevo, [{ email: 'ok@example.com' }, { email: 'nope' }, { email: 'x@example.invalid' }]);
    await brevo.settled();
    const processId = field<number>(accepted, 'processId');
    const done = await api(brevo, 'GET', `/processes/${processId}`);
    const url = (done.body as { info: { import: { invalid_emails: string } } }).info.import.invalid_emails;
    expect(url).toBe(brevo.invalidEmailsCsvUrl(processId));
    const csv = await call(url, 'GET');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.text).toBe('email\nnope\nx@example.invalid\n');
    expect(brevo.listMembers(2)).toEqual(['ok@example.com']);
  });

  it('POSTs to notifyUrl when the process ends', async () => {
    const received: string[] = [];
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push(`${request.method} ${request.url} ${body}`);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    const brevo = await start();
    const accepted = await importRows(brevo, [{ email: 'a@example.com' }], { notifyUrl: `http://127.0.0.1:${port}/api/webhooks/brevo/token-1` });
    const processId = field<number>(accepted, 'processId');
    await brevo.settled();
    expect(received).toEqual([`POST /api/webhooks/brevo/token-1 {"processId":${processId},"status":"completed"}`]);
    expect(brevo.state.processes.get(processId)?.notification).toMatchObject({ status: 204 });
  });

  it('keeps existing attributes unless told to update, and empties them only with emptyContactsAttributes', async () => {
    const brevo = await start();
    await importRows(brevo, [{ email: 'a@example.com', attributes: { FIRSTNAME: 'Ann', LASTNAME: 'Lee' } }]);
    await brevo.settled();
    await importRows(brevo, [{ email: 'a@example.com', attributes: { FIRSTNAME: 'Anna', LASTNAME: '' } }], { updateExistingContacts: false });
    await brevo.settled();
    expect(brevo.state.contacts.get('a@example.com')).toEqual({ FIRSTNAME: 'Ann', LASTNAME: 'Lee' });
    await importRows(brevo, [{ email: 'a@example.com', attributes: { FIRSTNAME: 'Anna', LASTNAME: '' } }]);
    await brevo.settled();
    expect(brevo.state.contacts.get('a@example.com')).toEqual({ FIRSTNAME: 'Anna', LASTNAME: 'Lee' });
    await importRows(brevo, [{ email: 'a@example.com', attributes: { LASTNAME: '' } }], { emptyContactsAttributes: true });
    await brevo.settled();
    expect(brevo.state.contacts.get('a@example.com')).toEqual({ FIRSTNAME: 'Anna' });
  });

  it('records emailBlacklist as a blacklisting', async () => {
    const brevo = await start();
    await importRows(brevo, [{ email: 'a@example.com' }], { emailBlacklist: true });
    await brevo.settled();
    expect([...brevo.state.blacklisted]).toEqual(['a@example.com']);
    expect(brevo.summary()).toMatchObject({ blacklisted: 1 });
  });

  it('ends a process failed, applying nothing, with asyncFailureShare', async () => {
    const brevo = await start({ faults: { asyncFailureShare: 1 } });
    const processId = field<number>(await importRows(brevo, [{ email: 'a@example.com' }]), 'processId');
    await brevo.settled();
    expect((await api(brevo, 'GET', `/processes/${processId}`)).body).toEqual({ id: processId, name: 'IMPORTUSER', status: 'failed' });
    expect(brevo.state.contacts.size).toBe(0);
  });

  it('refuses imports that break the contract or name a missing list', async () => {
    const brevo = await start();
    const noFlags = await api(brevo, 'POST', '/contacts/import', { listIds: [2], jsonBody: [{ email: 'a@example.com' }] });
    expect(noFlags.status).toBe(400);
    expect(noFlags.body).toMatchObject({ code: 'missing_parameter', message: expect.stringContaining('updateExistingContacts') as string });
    const lowerCase = await importRows(brevo, [{ email: 'a@example.com', attributes: { firstname: 'Ann' } }]);
    expect(lowerCase.status).toBe(400);
    expect(lowerCase.body).toMatchObject({ code: 'invalid_parameter' });
    const fileUrl = await importRows(brevo, [{ email: 'a@example.com' }], { fileUrl: 'https://example.com/a.csv' });
    expect(fileUrl.body).toMatchObject({ code: 'invalid_parameter', message: expect.stringContaining('fileUrl') as string });
    const missingList = await importRows(brevo, [{ email: 'a@example.com' }], { listIds: [99] });
    expect(missingList.status).toBe(404);
    expect(missingList.body).toMatchObject({ code: 'document_not_found' });
    expect(brevo.state.processes.size).toBe(0);
  });

  it('answers 413 to an import body over the limit', async () => {
    const brevo = await start({ maxImportBodyBytes: 500 });
    const rows = Array.from({ length: 30 }, (_, index) => ({ email: `member${index}@example.com` }));
    const result = await importRows(brevo, rows);
    expect(result.status).toBe(413);
    expect(result.body).toMatchObject({ code: 'invalid_parameter', message: expect.stringContaining('500 bytes') as string });
    expect(brevo.state.processes.size).toBe(0);
  });
});

describe('Brevo emulator: list membership', () => {
  async function withMembers(brevo: BrevoEmulator, emails: string[]) {
    await importRows(brevo, emails.map((email) => ({ email })));
    await brevo.settled();
  }

  it('removes members with a 201 naming successes and failures', async () => {
    const brevo = await start();
    await withMembers(brevo, ['a@example.com', 'b@example.com']);
    const result = await api(brevo, 'POST', '/contacts/lists/2/contacts/remove', { emails: ['a@example.com', 'unknown@example.com'] });
    expect(result.status).toBe(201);
    expect(result.body).toEqual({ contacts: { success: ['a@example.com'], failure: ['unknown@example.com'] } });
    expect(brevo.listMembers(2)).toEqual(['b@example.com']);
    expect(brevo.state.contacts.has('a@example.com')).toBe(true);
  });

  it('answers 400 "Contact already in list and/or does not exist" when every email fails', async () => {
    const brevo = await start();
    await withMembers(brevo, ['a@example.com']);
    await api(brevo, 'POST', '/contacts/lists/2/contacts/remove', { emails: ['a@example.com'] });
    const again = await api(brevo, 'POST', '/contacts/lists/2/contacts/remove', { emails: ['a@example.com'] });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ code: 'invalid_parameter', message: 'Contact already in list and/or does not exist' });
    const readd = await api(brevo, 'POST', '/contacts/lists/2/contacts/add', { emails: ['a@example.com'] });
    expect(readd.status).toBe(201);
    expect(brevo.listMembers(2)).toEqual(['a@example.com']);
    expect((await api(brevo, 'POST', '/contacts/lists/2/contacts/add', { emails: ['a@example.com'] })).status).toBe(400);
  });

  it('refuses more than 150 emails, ids or all, and a missing list', async () => {
    const brevo = await start();
    const emails = Array.from({ length: 151 }, (_, index) => `m${index}@example.com`);
    const tooMany = await api(brevo, 'POST', '/contacts/lists/2/contacts/remove', { emails });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ code: 'invalid_parameter', message: expect.stringContaining('150') as string });
    const all = await api(brevo, 'POST', '/contacts/lists/2/contacts/remove', { emails: ['a@example.com'], all: true });
    expect(all.status).toBe(400);
    const missing = await api(brevo, 'POST', '/contacts/lists/77/contacts/remove', { emails: ['a@example.com'] });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'document_not_found' });
  });
});

describe('Brevo emulator: rate limits', () => {
  it('sends x-sib-ratelimit headers and answers 429 without Retry-After when the contacts bucket is used up', async () => {
    const brevo = await start({ contactsRateLimits: [{ requests: 2, windowMs: 60_000 }, { requests: 100, windowMs: 3_600_000 }] });
    const first = await api(brevo, 'GET', '/contacts/lists/2');
    expect(first.headers.get('x-sib-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-sib-ratelimit-remaining')).toBe('1');
    expect(Number(first.headers.get('x-sib-ratelimit-reset'))).toBeGreaterThan(0);
    expect(Number(first.headers.get('x-sib-ratelimit-reset'))).toBeLessThanOrEqual(60);
    await api(brevo, 'GET', '/contacts/lists/2');
    const throttled = await api(brevo, 'GET', '/contacts/lists/2');
    expect(throttled.status).toBe(429);
    expect(throttled.body).toMatchObject({ code: 'too_many_requests' });
    expect(throttled.headers.get('retry-after')).toBeNull();
    expect(throttled.headers.get('x-sib-ratelimit-remaining')).toBe('0');
    // Other endpoints draw from their own bucket.
    expect((await api(brevo, 'GET', '/account')).status).toBe(200);
  });

  it('puts /processes in the 100/hour bucket', async () => {
    const brevo = await start({ otherRateLimits: [{ requests: 1, windowMs: 3_600_000 }] });
    const processId = field<number>(await importRows(brevo, [{ email: 'a@example.com' }]), 'processId');
    expect((await api(brevo, 'GET', `/processes/${processId}`)).status).toBe(200);
    const second = await api(brevo, 'GET', `/processes/${processId}`);
    expect(second.status).toBe(429);
    expect(second.headers.get('x-sib-ratelimit-limit')).toBe('1');
    expect(Number(second.headers.get('x-sib-ratelimit-reset'))).toBeGreaterThan(3500);
  });

  it('answers 429 and 401 to a large import without reading it, and the client gets the answer', async () => {
    const brevo = await start({ contactsRateLimits: [{ requests: 1, windowMs: 60_000 }] });
    const rows = Array.from({ length: 70_000 }, (_, index) => ({ email: `member${index}@example.com`, attributes: { FIRSTNAME: 'Ann', LASTNAME: 'Lee' } }));
    expect((await api(brevo, 'GET', '/contacts/lists/2')).status).toBe(200);
    expect((await importRows(brevo, rows)).status).toBe(429);
    expect((await importRows(brevo, rows.slice(0, 1))).status).toBe(429);
    const unauthorized = await call(`${brevo.baseUrl}/contacts/import`, 'POST', { headers: { 'api-key': 'wrong' }, json: { listIds: [2], ...FLAGS, jsonBody: rows } });
    expect(unauthorized.status).toBe(401);
    expect(brevo.requests.counts).toMatchObject({ status429: 2, status4xx: 1, resets: 0 });
  });

  it('sends no rate-limit headers when unthrottled', async () => {
    const brevo = await start({ unthrottled: true });
    const result = await api(brevo, 'GET', '/contacts/lists/2');
    expect(result.status).toBe(200);
    expect(result.headers.get('x-sib-ratelimit-limit')).toBeNull();
  });
});

describe('Brevo emulator: contacts in a list', () => {
  const emails = (result: { body: unknown }) => (result.body as { contacts: Array<{ email: string }> }).contacts.map((item) => item.email);

  it('pages a list with limit (default 50, at most 500) and offset, newest first unless sort=asc', async () => {
    const brevo = await start();
    brevo.seedListMembers(2, Array.from({ length: 120 }, (_, i) => `M${i}@example.com`));
    const first = await api(brevo, 'GET', '/contacts/lists/2/contacts');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ count: 120 });
    expect(emails(first)).toEqual(Array.from({ length: 50 }, (_, i) => `m${119 - i}@example.com`));
    const ascending = await api(brevo, 'GET', '/contacts/lists/2/contacts?limit=500&offset=100&sort=asc');
    expect(emails(ascending)).toEqual(Array.from({ length: 20 }, (_, i) => `m${100 + i}@example.com`));
    expect(emails(await api(brevo, 'GET', '/contacts/lists/2/contacts?offset=200'))).toEqual([]);
    const tooMany = await api(brevo, 'GET', '/contacts/lists/2/contacts?limit=501');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ code: 'invalid_parameter' });
  });

  it('shows each contact with its id, blacklist flags, lists and attributes, and answers 404 for a missing list', async () => {
    const brevo = await start({ lists: [{ id: 2, name: 'A' }, { id: 3, name: 'B' }] });
    brevo.seedListMembers(2, [{ email: 'ann@example.com', attributes: { FIRSTNAME: 'Ann' } }]);
    brevo.seedListMembers(3, ['ann@example.com']);
    const result = await api(brevo, 'GET', '/contacts/lists/2/contacts');
    expect(result.body).toEqual({
      contacts: [
        {
          email: 'ann@example.com',
          id: 1,
          emailBlacklisted: false,
          smsBlacklisted: false,
          createdAt: expect.any(String) as string,
          modifiedAt: expect.any(String) as string,
          listIds: [2, 3],
          listUnsubscribed: [],
          attributes: { FIRSTNAME: 'Ann' },
        },
      ],
      count: 1,
    });
    const missing = await api(brevo, 'GET', '/contacts/lists/9/contacts');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'document_not_found' });
    expect(() => brevo.seedListMembers(9, ['x@example.com'])).toThrow(/does not exist/);
  });

  it('counts the listing in the contacts bucket', async () => {
    const brevo = await start({ contactsRateLimits: [{ requests: 1, windowMs: 60_000 }] });
    expect((await api(brevo, 'GET', '/contacts/lists/2/contacts')).status).toBe(200);
    const throttled = await api(brevo, 'GET', '/contacts/lists/2/contacts');
    expect(throttled.status).toBe(429);
    expect(brevo.rates.stats('contacts')).toMatchObject({ requests: 2, throttled: 1 });
  });
});
