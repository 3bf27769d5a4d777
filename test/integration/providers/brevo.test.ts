import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  closeSharedDispatcher,
  createProviderAdapter,
  createRateGovernor,
  isProviderErrorKind,
  ProviderPermanentError,
  ProviderThrottledError,
  type ChunkOperation,
  type MemberPage,
  type DeliveryState,
  type ProviderAdapter,
  type RateSignal,
  type StepResult,
  type Target,
} from '../../../src/providers';
import { startBrevoEmulator, type BrevoEmulator } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { deliver } from './driver';

const POLL_MS = 30;
const LIST_ID = 2;

let context: TestContext;
let emulator: BrevoEmulator;

beforeAll(async () => {
  context = await createTestContext();
  emulator = await startBrevoEmulator({ recordBodies: true, rateScale: 100, asyncDelayMs: 60 });
});

afterAll(async () => {
  await emulator?.close();
  await closeSharedDispatcher();
});

beforeEach(() => {
  emulator.reset();
  emulator.clearFaults();
});

function adapter(settings: { attributes?: Record<string, string | null> } = {}): ProviderAdapter {
  return createProviderAdapter({
    provider: 'brevo',
    apiKey: emulator.apiKeys[0]!,
    baseUrl: emulator.baseUrl,
    brevoAttributes: settings.attributes,
    timing: { brevoPollIntervalMs: POLL_MS, brevoNotifyFallbackMs: 60_000 },
    http: { retry: { baseDelayMs: 5 } },
  });
}

function bodies(route: string): Array<Record<string, unknown>> {
  return emulator.requests.entries().filter((entry) => entry.route === route).map((entry) => entry.requestBody as Record<string, unknown>);
}

function governor() {
  return createRateGovernor({ table: context.storage.table(context.storage.names.tables.governor), rateScale: 100 });
}

/** The state after the first step (noting the newest process id), ready to import. */
async function marked(brevo: ProviderAdapter, operation: ChunkOperation): Promise<DeliveryState> {
  const result = await brevo.step(operation, brevo.start(operation));
  if (result.kind !== 'next') throw new Error('expected a next step');
  expect(result.state).toMatchObject({ phase: 'import' });
  return result.state;
}

const upsert = (records: Array<{ email: string; fields?: Record<string, string> }>): ChunkOperation => ({
  kind: 'upsert',
  target: { provider: 'brevo', listId: LIST_ID },
  records: records.map((record) => ({ email: record.email, fields: record.fields ?? {}, isNew: true })),
});

describe('preparing a Brevo list', () => {
  it('accepts a list that exists', async () => {
    await expect(adapter().prepareTarget({ provider: 'brevo', listId: LIST_ID })).resolves.toEqual({ provider: 'brevo', listId: LIST_ID });
  });

  it('refuses a list that does not exist with a permanent document_not_found', async () => {
    const error = await adapter().prepareTarget({ provider: 'brevo', listId: 999 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderPermanentError);
    expect(error).toMatchObject({ statusCode: 404, providerCode: 'document_not_found' });
  });
});

describe('upserting into Brevo through the import', () => {
  it('imports with the documented flags, follows the process and reports the invalid-email CSV', async () => {
    const operation = upsert([
      { email: 'ann@example.com', fields: { firstName: 'Ann', lastName: 'Lee', phone: '+33612345678', city: 'Paris' } },
      { email: 'someone@example.invalid', fields: { firstName: 'X' } },
      { email: 'Bob@Example.com' },
    ]);
    const brevo = adapter();
    const steps: StepResult[] = [];
    let state = brevo.start(operation);
    const buckets: string[] = [];
    for (;;) {
      buckets.push(brevo.nextBucket(operation, state));
      const result = await brevo.step(operation, state);
      steps.push(result);
      if (result.kind === 'done') break;
      state = result.state;
      await new Promise((resolve) => setTimeout(resolve, result.notBeforeMs ?? 0));
    }

    expect(steps.at(-1)).toEqual({
      kind: 'done',
      rejects: [{ email: 'someone@example.invalid', code: 'provider_rejected', reason: 'Brevo rejected the email address as invalid' }],
    });
    expect(steps[0]).toMatchObject({ kind: 'next', state: { phase: 'import', afterProcessId: 0 } });
    expect(steps[1]).toMatchObject({ kind: 'next', notBeforeMs: POLL_MS });
    expect(buckets[0]).toBe('other');
    expect(buckets[1]).toBe('contacts');
    expect(buckets.slice(2, -1).every((bucket) => bucket === 'other')).toBe(true);
    expect(buckets.at(-1)).toBe('files');
    expect(bodies('POST /v3/contacts/import')).toEqual([
      {
        listIds: [LIST_ID],
        updateExistingContacts: true,
        emptyContactsAttributes: false,
        disableNotification: true,
        jsonBody: [
          { email: 'ann@example.com', attributes: { FIRSTNAME: 'Ann', LASTNAME: 'Lee', SMS: '+33612345678' } },
          { email: 'someone@example.invalid', attributes: { FIRSTNAME: 'X' } },
          { email: 'Bob@Example.com' },
        ],
      },
    ]);
    expect(emulator.listMembers(LIST_ID).sort()).toEqual(['ann@example.com', 'bob@example.com']);
    expect(emulator.state.blacklisted.size).toBe(0);
  });

  it('uses the configured attribute names and leaves out fields set to null', async () => {
    const brevo = adapter({ attributes: { firstName: 'PRENOM', phone: null, city: 'CITY' } });
    const operation = upsert([{ email: 'c@example.com', fields: { firstName: 'Chloé', lastName: 'Roux', phone: '+33600000000', city: 'Lyon' } }]);
    await brevo.step(operation, await marked(brevo, operation));
    expect(bodies('POST /v3/contacts/import')[0]?.jsonBody).toEqual([
      { email: 'c@example.com', attributes: { PRENOM: 'Chloé', LASTNAME: 'Roux', CITY: 'Lyon' } },
    ]);
  });

  it('asks Brevo to call notifyUrl and then waits long, reading the process when woken', async () => {
    const calls: string[] = [];
    const receiver: Server = createServer((request, response) => {
      calls.push(request.url ?? '');
      request.resume();
      response.end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/webhooks/brevo/${randomUUID()}`;
      const brevo = adapter();
      const operation = upsert([{ email: 'd@example.com' }]);
      const imported = await brevo.step(operation, await marked(brevo, operation), { notifyUrl });
      expect(imported).toMatchObject({ kind: 'next', notBeforeMs: 60_000 });
      expect(bodies('POST /v3/contacts/import')[0]?.notifyUrl).toBe(notifyUrl);

      await emulator.settled();
      await expect.poll(() => calls.length).toBe(1);
      expect(calls[0]).toBe(new URL(notifyUrl).pathname);
      if (imported.kind !== 'next') throw new Error('expected a next step');
      expect(await brevo.step(operation, imported.state, { notifyUrl })).toEqual({ kind: 'done', rejects: [] });
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it('posts the import again when Brevo ends it failed', async () => {
    emulator.setFaults({ asyncFailureShare: 1 });
    const brevo = adapter();
    const operation = upsert([{ email: 'e@example.com' }]);
    const imported = await brevo.step(operation, await marked(brevo, operation));
    await emulator.settled();
    emulator.clearFaults();
    if (imported.kind !== 'next') throw new Error('expected a next step');
    const failed = await brevo.step(operation, imported.state);
    expect(failed).toMatchObject({ kind: 'next', state: { phase: 'mark', failures: 1 } });
    if (failed.kind !== 'next') throw new Error('expected a next step');
    expect(brevo.nextBucket(operation, failed.state)).toBe('other');
    const rejects = await deliver(brevo, governor(), { connectionId: `c-${randomUUID()}`, provider: 'brevo' }, operation);
    expect(rejects).toEqual([]);
    expect(emulator.listMembers(LIST_ID)).toEqual(['e@example.com']);
  });

  it('reports the rate-limit headers it sees', async () => {
    const signals: RateSignal[] = [];
    const brevo = adapter();
    const operation = upsert([{ email: 'f@example.com' }]);
    await brevo.step(operation, await marked(brevo, operation), { onRateSignal: (signal) => signals.push(signal) });
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({ bucket: 'contacts', remaining: expect.any(Number) as number });
  });

  it("throws a throttled error with Brevo's reset on a 429, and the chunk gets through after it", async () => {
    const brevo = adapter();
    const operation = upsert([{ email: 'g@example.com' }]);
    const ready = await marked(brevo, operation);
    emulator.setFaults({ throttleForMs: 1_500 });
    const error = await brevo.step(operation, ready).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProviderThrottledError);
    expect(error).toMatchObject({ statusCode: 429, retryAfterSource: 'provider' });
    expect((error as ProviderThrottledError).retryAfterMs).toBeGreaterThanOrEqual(1_000);
    emulator.clearFaults();

    const rejects = await deliver(brevo, governor(), { connectionId: `c-${randomUUID()}`, provider: 'brevo' }, operation);
    expect(rejects).toEqual([]);
    expect(emulator.listMembers(LIST_ID)).toEqual(['g@example.com']);
  });
});

describe('following Brevo processes as documented', () => {
  const PHONES = ['+33611111111', '+33622222222', '+33633333333'];

  it('reads every report the process names: 3 SMS duplicates and an invalid email are 4 rejects with their reasons', async () => {
    PHONES.forEach((phone, index) => emulator.addContact(`owner${index}@example.com`, { SMS: phone }));
    const operation = upsert([
      ...PHONES.map((phone, index) => ({ email: `dup${index}@example.com`, fields: { phone } })),
      { email: 'someone@example.invalid' },
      { email: 'fine@example.com', fields: { phone: '+33644444444' } },
    ]);
    const rejects = await deliver(adapter(), governor(), { connectionId: `c-${randomUUID()}`, provider: 'brevo' }, operation);
    expect(rejects).toEqual([
      { email: 'someone@example.invalid', code: 'provider_rejected', reason: 'Brevo rejected the email address as invalid' },
      ...PHONES.map((_phone, index) => ({
        email: `dup${index}@example.com`,
        code: 'provider_rejected',
        reason: 'Brevo did not import the contact: its SMS number belongs to another contact',
      })),
    ]);
    expect(emulator.listMembers(LIST_ID)).toEqual(['fine@example.com']);
  });

  it.each(['processing', 'in_process'] as const)('waits while the process is %s', async (runningStatus) => {
    const running = await startBrevoEmulator({ asyncDelayMs: 400, runningStatus });
    try {
      const brevo = createProviderAdapter({ provider: 'brevo', apiKey: running.apiKeys[0]!, baseUrl: running.baseUrl, timing: { brevoPollIntervalMs: POLL_MS } });
      const operation = upsert([{ email: 'slow@example.com' }]);
      const imported = await brevo.step(operation, await marked(brevo, operation));
      if (imported.kind !== 'next') throw new Error('expected a next step');
      await new Promise((resolve) => setTimeout(resolve, 250));
      const polled = await brevo.step(operation, imported.state);
      expect(polled).toMatchObject({ kind: 'next', state: { phase: 'status', polls: 1 }, notBeforeMs: POLL_MS });
      expect(running.requests.entries().at(-1)).toMatchObject({ route: 'GET /v3/processes/{processId}', status: 200 });
    } finally {
      await running.close();
    }
  });

  it('fails the chunk, without posting again, when the process was cancelled in Brevo', async () => {
    const slow = await startBrevoEmulator({ asyncDelayMs: 400 });
    try {
      const brevo = createProviderAdapter({ provider: 'brevo', apiKey: slow.apiKeys[0]!, baseUrl: slow.baseUrl, timing: { brevoPollIntervalMs: POLL_MS } });
      const operation = upsert([{ email: 'cancel@example.com' }]);
      const imported = await brevo.step(operation, await marked(brevo, operation));
      if (imported.kind !== 'next' || imported.state.phase !== 'status') throw new Error('expected a status step');
      expect(slow.cancelProcess(imported.state.processId as number)).toBe(true);
      const error = await brevo.step(operation, imported.state).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProviderPermanentError);
      expect(error).toMatchObject({ providerCode: 'import_cancelled' });
      expect(slow.state.processes.size).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it('finds and reads the first process when the answer to the import is lost, instead of importing again', async () => {
    emulator.setFaults({ nextLostResponses: 1, pathPrefix: '/v3/contacts/import' });
    const operation = upsert([{ email: 'lost@example.com' }, { email: 'lost@example.invalid' }]);
    const rejects = await deliver(adapter(), governor(), { connectionId: `c-${randomUUID()}`, provider: 'brevo' }, operation);
    expect(emulator.requests.entries().filter((entry) => entry.route === 'POST /v3/contacts/import').map((entry) => entry.outcome)).toEqual(['lost-response']);
    expect(emulator.state.processes.size).toBe(1);
    expect(rejects).toEqual([{ email: 'lost@example.invalid', code: 'provider_rejected', reason: 'Brevo rejected the email address as invalid' }]);
    expect(emulator.listMembers(LIST_ID)).toEqual(['lost@example.com']);
  });

  it('imports again only when the processes prove the lost import never started', async () => {
    emulator.setFaults({ nextServerErrors: 1, serverErrorStatus: 500, pathPrefix: '/v3/contacts/import' });
    const operation = upsert([{ email: 'again@example.com' }]);
    await deliver(adapter(), governor(), { connectionId: `c-${randomUUID()}`, provider: 'brevo' }, operation);
    const routes = emulator.requests.entries().map((entry) => `${entry.route} ${entry.status}`);
    expect(routes.slice(0, 4)).toEqual(['GET /v3/processes 200', 'POST /v3/contacts/import 500', 'GET /v3/processes 200', 'POST /v3/contacts/import 202']);
    expect(emulator.state.processes.size).toBe(1);
    expect(emulator.listMembers(LIST_ID)).toEqual(['again@example.com']);
  });
});

describe('removing from a Brevo list', () => {
  const remove = (emails: string[], listId = LIST_ID): ChunkOperation => ({ kind: 'remove', target: { provider: 'brevo', listId }, emails });

  it('removes members from the list with contacts/remove, emails only', async () => {
    const brevo = adapter();
    await deliver(brevo, governor(), { connectionId: `c-${randomUUID()}`, provider: 'brevo' }, upsert([{ email: 'h@example.com' }, { email: 'i@example.com' }]));
    const operation = remove(['h@example.com', 'unknown@example.com']);
    expect(await brevo.step(operation, brevo.start(operation))).toEqual({ kind: 'done', rejects: [] });
    expect(bodies('POST /v3/contacts/lists/{listId}/contacts/remove')).toEqual([{ emails: ['h@example.com', 'unknown@example.com'] }]);
    expect(emulator.listMembers(LIST_ID)).toEqual(['i@example.com']);
    expect(emulator.state.contacts.has('h@example.com')).toBe(true);
    expect(emulator.state.blacklisted.size).toBe(0);
  });

  it('treats "already removed" (400) and a deleted list (404) as done', async () => {
    const brevo = adapter();
    const operation = remove(['nobody@example.com']);
    expect(await brevo.step(operation, brevo.start(operation))).toEqual({ kind: 'done', rejects: [] });
    expect(emulator.requests.entries().at(-1)?.status).toBe(400);
    const gone = remove(['nobody@example.com'], 4242);
    expect(await brevo.step(gone, brevo.start(gone))).toEqual({ kind: 'done', rejects: [] });
    expect(emulator.requests.entries().at(-1)?.status).toBe(404);
  });

  it('takes at most 150 emails per chunk', () => {
    expect(adapter().chunkLimits.remove.maxRecords).toBe(150);
  });

  it('does not retry a 400 it cannot explain', async () => {
    const brevo = createProviderAdapter({ provider: 'brevo', apiKey: emulator.apiKeys[0]!, baseUrl: emulator.baseUrl });
    const operation = remove(Array.from({ length: 151 }, (_, i) => `too-many-${i}@example.com`));
    const error = await brevo.step(operation, brevo.start(operation)).catch((caught: unknown) => caught);
    expect(isProviderErrorKind(error, 'permanent')).toBe(true);
    expect(error).toMatchObject({ statusCode: 400, providerCode: 'invalid_parameter', attempts: 1 });
    expect(emulator.requests.counts.total).toBe(1);
  });
});

describe("reading a Brevo list's members", () => {
  async function readAll(brevo: ProviderAdapter, target: Target): Promise<MemberPage[]> {
    const pages: MemberPage[] = [];
    let cursor: string | undefined;
    do {
      const page = await brevo.readTargetMembers(target, cursor);
      pages.push(page);
      cursor = page.cursor;
    } while (cursor !== undefined && pages.length < 20);
    return pages;
  }

  it('reads the members 500 a page, oldest first, lower-cased, until the last page', async () => {
    emulator.seedListMembers(LIST_ID, Array.from({ length: 1_100 }, (_, i) => `Pre${i}@Example.com`));
    const brevo = adapter();
    expect(brevo.membersBucket).toBe('contacts');
    const target = await brevo.prepareTarget({ provider: 'brevo', listId: LIST_ID });
    const pages = await readAll(brevo, target);
    expect(pages.map((page) => page.emails.length)).toEqual([500, 500, 100]);
    expect(pages.map((page) => page.cursor)).toEqual(['500', '1000', undefined]);
    expect(pages.flatMap((page) => page.emails)).toEqual(Array.from({ length: 1_100 }, (_, i) => `pre${i}@example.com`));
    const queries = emulator.requests.entries().filter((entry) => entry.route === 'GET /v3/contacts/lists/{listId}/contacts').map((entry) => entry.query);
    expect(queries).toEqual(['limit=500&offset=0&sort=asc', 'limit=500&offset=500&sort=asc', 'limit=500&offset=1000&sort=asc']);
  });

  it('reads an empty list, and a list of exactly one page, as one page', async () => {
    const brevo = adapter();
    expect(await brevo.readTargetMembers({ provider: 'brevo', listId: LIST_ID }, undefined)).toEqual({ emails: [] });
    emulator.seedListMembers(LIST_ID, Array.from({ length: 500 }, (_, i) => `full${i}@example.com`));
    const pages = await readAll(brevo, { provider: 'brevo', listId: LIST_ID });
    expect(pages).toHaveLength(1);
    expect(pages[0]!.emails).toHaveLength(500);
  });

  it('surfaces a 429 on a page read as a throttled error, and a missing list as permanent', async () => {
    const brevo = adapter();
    emulator.setFaults({ throttleForMs: 2_000, pathPrefix: `/v3/contacts/lists/${LIST_ID}/contacts` });
    const throttled = await brevo.readTargetMembers({ provider: 'brevo', listId: LIST_ID }, undefined).catch((caught: unknown) => caught);
    expect(throttled).toBeInstanceOf(ProviderThrottledError);
    expect(throttled).toMatchObject({ statusCode: 429 });
    emulator.clearFaults();
    const missing = await brevo.readTargetMembers({ provider: 'brevo', listId: 4242 }, undefined).catch((caught: unknown) => caught);
    expect(missing).toBeInstanceOf(ProviderPermanentError);
    expect(missing).toMatchObject({ statusCode: 404, providerCode: 'document_not_found' });
  });
});
