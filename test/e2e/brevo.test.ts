import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ emulators: { rateScale: 20 }, webhooks: true });
});
afterAll(async () => {
  await app?.close();
});

const person = (index: number, firstName = `First${index}`) => ({ id: `c${index}`, email: `p${index}@example.com`, firstName, lastName: 'Brevo' });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => person(from + i));

describe('Brevo export end to end', () => {
  it('keeps one list equal to the union of the segments, reporting invalid emails from the import CSV', async () => {
    const brevo = app.emulators.brevo;
    const listId = brevo.createList('Newsletter');
    const connectionId = await app.createConnection('brevo');
    const providerInvalid = { id: 'x1', email: 'someone@example.invalid' };
    await app.uploadSegment('a', 'Segment A', segmentCsv([...range(0, 300), providerInvalid]));
    await app.uploadSegment('b', 'Segment B', segmentCsv(range(200, 500)));
    const exportId = await app.createExport({
      name: 'A and B to Brevo',
      connectionId,
      segmentIds: ['a', 'b'],
      mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName' },
      options: { listId },
    });

    const first = await app.waitForRun(await app.startRun(exportId));
    expect(first.status).toBe('partially_succeeded');
    expect(first.totals).toMatchObject({ adds: 501, rejected: 1, sent: 500, failed: 0 });
    expect(brevo.listMembers(listId).sort()).toEqual(range(0, 500).map((p) => p.email).sort());
    expect(brevo.state.contacts.get('p7@example.com')).toMatchObject({ FIRSTNAME: 'First7', LASTNAME: 'Brevo' });
    const process = [...brevo.state.processes.values()][0]!;
    expect(process.flags).toMatchObject({ updateExistingContacts: true, emptyContactsAttributes: false, disableNotification: true });
    expect(process.notifyUrl).toMatch(/\/api\/webhooks\/brevo\//);
    const rejects = await app.api<{ items: { email: string; code: string; segmentId: string }[] }>('GET', `runs/${first.runId}/rejects`);
    expect(rejects.body.items).toEqual([expect.objectContaining({ email: 'someone@example.invalid', code: 'provider_rejected', segmentId: 'a' })]);

    // 250..299 leave A but stay in B; 0..49 leave A and are in no segment: only they are removed.
    await app.uploadSegment('a', 'Segment A', segmentCsv(range(50, 250)));
    const second = await app.waitForRun(await app.startRun(exportId));
    expect(second.status).toBe('succeeded');
    expect(second.totals).toMatchObject({ adds: 0, updates: 0, removes: 50, sent: 50 });
    expect(brevo.listMembers(listId).sort()).toEqual(range(50, 500).map((p) => p.email).sort());
    expect(brevo.state.blacklisted.size).toBe(0);
  });

  it('reads the duplicate reports too: 3 SMS numbers held by other contacts leave 3 rejects and sent lower by 3', async () => {
    const brevo = app.emulators.brevo;
    const listId = brevo.createList('Phones');
    const phones = ['+33611111111', '+33622222222', '+33633333333'];
    phones.forEach((phone, index) => brevo.addContact(`holder${index}@example.com`, { SMS: phone }));
    const rows = Array.from({ length: 100 }, (_, index) => `s${index},sms${index}@example.com,${index < 3 ? phones[index] : `+3370000${String(index).padStart(4, '0')}`}`);
    await app.uploadSegment('phones', 'Phones', `CustomerId,Email,Phone\n${rows.join('\n')}\n`);
    const connectionId = await app.createConnection('brevo');
    const exportId = await app.createExport({ name: 'Phones to Brevo', connectionId, segmentIds: ['phones'], mapping: { email: 'Email', phone: 'Phone' }, options: { listId } });
    const run = await app.waitForRun(await app.startRun(exportId));
    expect(run.status).toBe('partially_succeeded');
    expect(run.totals).toMatchObject({ adds: 100, sent: 97, rejected: 3, failed: 0 });
    const rejects = await app.api<{ items: { email: string; code: string; reason: string }[] }>('GET', `runs/${run.runId}/rejects`);
    expect(rejects.body.items.map((item) => [item.email, item.code, item.reason]).sort()).toEqual(
      [0, 1, 2].map((index) => [`sms${index}@example.com`, 'provider_rejected', 'Brevo did not import the contact: its SMS number belongs to another contact']),
    );
    expect(brevo.listMembers(listId)).toHaveLength(97);
  });

  it('refuses an export whose Brevo list does not exist', async () => {
    const connectionId = await app.createConnection('brevo');
    await app.uploadSegment('c', 'Segment C', segmentCsv(range(0, 3)));
    const refused = await app.api<{ error: { code: string } }>('POST', 'exports', {
      json: { name: 'nowhere', connectionId, segmentIds: ['c'], mapping: { email: 'Email' }, options: { listId: 999_999 } },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('list_not_found');
    const missing = await app.api<{ error: { code: string } }>('POST', 'exports', {
      json: { name: 'no list', connectionId, segmentIds: ['c'], mapping: { email: 'Email' } },
    });
    expect(missing.status).toBe(400);
    const exports = await app.api<{ items: unknown[] }>('GET', 'exports');
    expect(exports.body.items.every((item) => (item as { name: string }).name !== 'nowhere')).toBe(true);
  });
});
