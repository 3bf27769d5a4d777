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
    expect(omnisend.tagMembers('Shoppers').sort()).toEqual(range(0, 600).map((p) => p.email).sort());
    expect(omnisend.contact('o5@example.com')).toMatchObject({ status: 'nonSubscribed', city: 'Paris', firstName: 'F5' });
    expect(omnisend.state.counters.welcomeMessages).toBe(0);

    // 100 leave, 100 move to Lyon: the movers are updated but not tagged again.
    await app.uploadSegment('shoppers', 'Shoppers', segmentCsv([...range(100, 200, 'Lyon'), ...range(200, 600)]));
    const tagCallsBefore = omnisend.rates.stats('tags').requests;
    const second = await app.waitForRun(await app.startRun(exportId));
    expect(second.status).toBe('succeeded');
    expect(second.totals).toMatchObject({ adds: 0, updates: 100, removes: 100, sent: 200 });
    expect(omnisend.tagMembers('Shoppers').sort()).toEqual(range(100, 600).map((p) => p.email).sort());
    expect(omnisend.contact('o150@example.com')).toMatchObject({ city: 'Lyon' });
    // One DELETE for the leavers; no tag POST for members who already carry the tag.
    expect(omnisend.rates.stats('tags').requests - tagCallsBefore).toBe(1);
    expect(omnisend.state.counters.statusChanges).toBe(0);
  });
});
