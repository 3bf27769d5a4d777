import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';
import { ADMIN, CONTRIBUTOR } from '../support/http';

let app: TestApp;
let open: string;
let restricted: string;
let restrictedExport: string;
let restrictedRun: string;
beforeAll(async () => {
  app = await startTestApp({ emulators: { rateScale: 50 } });
  open = await app.createConnection('iterable', { allowContributors: true });
  restricted = await app.createConnection('iterable', { allowContributors: false });
  await app.uploadSegment('people', 'People', segmentCsv([{ id: '1', email: 'a@example.com', firstName: 'A' }]));
  await app.uploadSegment('others', 'Others', 'CustomerId,Mail\n1,b@example.com\n');
  restrictedExport = await app.createExport({ name: 'restricted', connectionId: restricted, segmentIds: ['people'], mapping: { email: 'Email' } });
  restrictedRun = await app.startRun(restrictedExport);
  await app.waitForRun(restrictedRun);
});
afterAll(async () => {
  await app?.close();
});

const exportNames = async () => (await app.api<{ items: { name: string }[] }>('GET', 'exports')).body.items.map((item) => item.name).sort();

describe('export validation', () => {
  const valid = () => ({ name: 'ok', connectionId: open, segmentIds: ['people'], mapping: { email: 'Email', firstName: 'FirstName' } });

  it.each([
    ['mapping.email is missing', { mapping: { firstName: 'FirstName' } }, 'mapping.email'],
    ['a mapped field is not in a segment', { segmentIds: ['people', 'others'], mapping: { email: 'Email' } }, 'mapping.email'],
    ['a field is mapped to a column that does not exist', { mapping: { email: 'Email', city: 'Town' } }, 'mapping.city'],
    ['no segment is chosen', { segmentIds: [] }, 'segmentIds'],
    ['a segment does not exist', { segmentIds: ['nope'] }, 'segmentIds.0'],
    ['a segment is listed twice', { segmentIds: ['people', 'people'] }, 'segmentIds'],
    ['Iterable is given a list id', { options: { listId: 3 } }, 'options.listId'],
    ['an unknown field is sent', { schedule: 'daily' }, '(body)'],
    ['an unknown mapping key is sent', { mapping: { email: 'Email', shoeSize: 'FirstName' } }, 'mapping'],
    ['the connection does not exist', { connectionId: 'missing' }, 'connectionId'],
  ])('answers 400 naming the problem when %s, and saves nothing', async (_, change, path) => {
    const before = await exportNames();
    const response = await app.api<{ error: { code: string; details: { path: string }[] } }>('POST', 'exports', { json: { ...valid(), ...change } });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('validation_failed');
    expect(response.body.error.details.map((detail) => detail.path)).toContain(path);
    expect(await exportNames()).toEqual(before);
  });

  it('accepts a valid export, and saving does not run it', async () => {
    const response = await app.api<{ id: string; provider: string }>('POST', 'exports', { json: valid() });
    expect(response.status).toBe(201);
    expect(response.body.provider).toBe('iterable');
    const runs = await app.api<{ items: unknown[] }>('GET', `exports/${response.body.id}/runs`);
    expect(runs.body.items).toEqual([]);
  });
});

describe('export and run authorization', () => {
  it('lets a Contributor use connections that allow contributors, and hides the others', async () => {
    const created = await app.api<{ id: string }>('POST', 'exports', {
      principal: CONTRIBUTOR,
      json: { name: 'by contributor', connectionId: open, segmentIds: ['people'], mapping: { email: 'Email' } },
    });
    expect(created.status).toBe(201);
    const refused = await app.api<{ error: { code: string } }>('POST', 'exports', {
      principal: CONTRIBUTOR,
      json: { name: 'not allowed', connectionId: restricted, segmentIds: ['people'], mapping: { email: 'Email' } },
    });
    expect(refused.status).toBe(400);
    const listed = await app.api<{ items: { id: string }[] }>('GET', 'exports', { principal: CONTRIBUTOR });
    expect(listed.body.items.map((item) => item.id)).toContain(created.body.id);
    expect(listed.body.items.map((item) => item.id)).not.toContain(restrictedExport);
  });

  const matrix: [string, string, () => string, number, number, number][] = [
    // method, path, expected for: no principal, Contributor, Admin
    ['GET', 'exports', () => 'exports', 401, 200, 200],
    ['GET', 'export', () => `exports/${restrictedExport}`, 401, 404, 200],
    ['PATCH', 'export', () => `exports/${restrictedExport}`, 401, 404, 200],
    ['GET', 'runs of export', () => `exports/${restrictedExport}/runs`, 401, 404, 200],
    ['POST', 'start run', () => `exports/${restrictedExport}/runs?dryRun=true`, 401, 404, 202],
    ['GET', 'run', () => `runs/${restrictedRun}`, 401, 404, 200],
    ['GET', 'rejects', () => `runs/${restrictedRun}/rejects`, 401, 404, 200],
    ['POST', 'refresh', () => 'refresh', 401, 403, 202],
  ];

  it.each(matrix)('%s %s: no principal, Contributor, Admin', async (method, _, path, none, contributor, admin) => {
    const json = method === 'PATCH' ? { name: 'renamed' } : undefined;
    expect((await app.api(method, path(), { principal: null, json })).status).toBe(none);
    expect((await app.api(method, path(), { principal: CONTRIBUTOR, json })).status).toBe(contributor);
    expect((await app.api(method, path(), { principal: ADMIN, json })).status).toBe(admin);
    if (method === 'POST') {
      // Let the run that the Admin started finish before the next row starts another.
      const runs = await app.api<{ items: { runId: string; status: string }[] }>('GET', `exports/${restrictedExport}/runs`);
      for (const run of runs.body.items) await app.waitForRun(run.runId);
    }
  });

  it('lets an Admin delete any export, and a Contributor not one on a restricted connection', async () => {
    expect((await app.api('DELETE', `exports/${restrictedExport}`, { principal: CONTRIBUTOR })).status).toBe(404);
    expect((await app.api('DELETE', `exports/${restrictedExport}`, { principal: ADMIN })).status).toBe(204);
    expect((await app.api('GET', `exports/${restrictedExport}`, { principal: ADMIN })).status).toBe(404);
  });
});
