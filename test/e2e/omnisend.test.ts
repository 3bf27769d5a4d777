import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ emulators: { rateScale: 50 } });
});
afterAll(async () => {
  await app?.close();
});

const person = (index: number, city = 'Paris') => ({ id: `c${index}`, email: `o${index}@example.com`, firstName: `F${index}`, lastName: 'Omni', city });
const range = (from: number, to: number, city?: string) => Array.from({ length: to - from }, (_, i) => person(from + i, city));

describe('Omnisend export end to end', () => {
  it('upserts contacts without subscribing them, tags them after the segment, and untags leavers', async () => {
    const omnisend = app.emulators.omnisend;
    const connectionId = await app.createConnection('omnisend');
    await app.uploadSegment('shoppers', 'Shoppers', segmentCsv([...range(0, 600), { id: 'x', email: 'gone@example.invalid' }]));
    const exportId = await app.createExport({
      name: 'Shoppers to Omnisend',
      connectionId,
      segmentIds: ['shoppers'],
      mapping: { email: 'Email', firstName: 'FirstName', lastName: 'LastName', city: 'City' },
    });

    const first = await app.waitForRun(await app.startRun(exportId));
    expect(first.status).toBe('partially_succeeded');
    expect(first.totals).toMatchObject({ adds: 601, sent: 600, rejected: 1 });
    await omnisend.settled();
    expect(omnisend.tagMembers('Shoppers').sort()).toEqual(range(0, 600).map((p) => p.email).sort());
    expect(omnisend.contact('o5@example.com')).toMatchObject({ status: 'nonSubscribed', city: 'Paris', firstName: 'F5' });
    expect(omnisend.state.counters.welcomeMessages).toBe(0);

    // 100 leave, 100 move to Lyon: the movers are updated but not tagged again.
    await app.uploadSegment('shoppers', 'Shoppers', segmentCsv([...range(100, 200, 'Lyon'), ...range(200, 600)]));
    const tagCallsBefore = omnisend.rates.stats('tags').requests;
    const second = await app.waitForRun(await app.startRun(exportId));
    expect(second.status).toBe('succeeded');
    expect(second.totals).toMatchObject({ adds: 0, updates: 100, removes: 100, sent: 200 });
    await omnisend.settled();
    expect(omnisend.tagMembers('Shoppers').sort()).toEqual(range(100, 600).map((p) => p.email).sort());
    expect(omnisend.contact('o150@example.com')).toMatchObject({ city: 'Lyon' });
    // One DELETE for the leavers; no tag POST for members who already carry the tag.
    expect(omnisend.rates.stats('tags').requests - tagCallsBefore).toBe(1);
    expect(omnisend.state.counters.statusChanges).toBe(0);
  });

  it('maps a segment name onto the tag alphabet Omnisend accepts, shows the mapping on the export, and tags with it', async () => {
    const omnisend = app.emulators.omnisend;
    const connectionId = await app.createConnection('omnisend');
    await app.uploadSegment('cafe', 'Café & Bar (VIP)', segmentCsv(range(1000, 1010)));
    const exportId = await app.createExport({ name: 'Café to Omnisend', connectionId, segmentIds: ['cafe'], mapping: { email: 'Email' } });
    const resource = await app.api<{ omnisendTags: Array<{ segmentId: string; segmentName: string; tag: string }> }>('GET', `exports/${exportId}`);
    expect(resource.body.omnisendTags).toEqual([{ segmentId: 'cafe', segmentName: 'Café & Bar (VIP)', tag: expect.stringMatching(/^Cafe - Bar -VIP-[0-9a-f]{6}$/) as string }]);
    const tag = resource.body.omnisendTags[0]!.tag;
    const run = await app.waitForRun(await app.startRun(exportId));
    expect(run.status).toBe('succeeded');
    await omnisend.settled();
    expect(omnisend.tagMembers(tag).sort()).toEqual(range(1000, 1010).map((p) => p.email).sort());
    expect(omnisend.tagMembers('Café & Bar (VIP)')).toEqual([]);
  });

  it('sends a contact whose phone cannot be made E.164 without it: counted as sent, with a phone_dropped row', async () => {
    const omnisend = app.emulators.omnisend;
    const connectionId = await app.createConnection('omnisend');
    const csv = 'CustomerId,Email,Phone,Country\np1,ph1@example.com,06 12 34 56 78,France\np2,ph2@example.com,06 12 34 56 79,\np3,ph3@example.com,+44 7911 123456,\n';
    await app.uploadSegment('phones', 'Phones', csv);
    const exportId = await app.createExport({ name: 'Phones to Omnisend', connectionId, segmentIds: ['phones'], mapping: { email: 'Email', phone: 'Phone', countryRegion: 'Country' } });
    const run = await app.waitForRun(await app.startRun(exportId));
    expect(run.status).toBe('succeeded');
    expect(run.totals).toMatchObject({ adds: 3, sent: 3, rejected: 0 });
    const rejects = await app.api<{ items: Array<{ email: string; code: string; reason: string }> }>('GET', `runs/${run.runId}/rejects`);
    expect(rejects.body.items).toEqual([expect.objectContaining({ email: 'ph2@example.com', code: 'phone_dropped' })]);
    expect(omnisend.phoneOwner('+33612345678')).toBe('ph1@example.com');
    expect(omnisend.phoneOwner('+447911123456')).toBe('ph3@example.com');
    await omnisend.settled();
    expect(omnisend.tagMembers('Phones').sort()).toEqual(['ph1@example.com', 'ph2@example.com', 'ph3@example.com']);
    // Delivered: the next run has nothing to send, and reports nothing again.
    const again = await app.waitForRun(await app.startRun(exportId));
    expect(again.totals).toMatchObject({ adds: 0, unchanged: 3, sent: 0 });
  });
});
