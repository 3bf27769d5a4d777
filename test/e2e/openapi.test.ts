import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/api/openapi';
import type { RunResource } from '../../src/domain/run';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';
import { ADMIN, CONTRIBUTOR } from '../support/http';
import { CheckedApi } from '../support/openapi';

/**
 * Every route of the API once at least, against the local host, each answer held to the OpenAPI
 * description (status, body schema, headers): successes and the errors a caller meets.
 */
let app: TestApp;
let api: CheckedApi;
beforeAll(async () => {
  app = await startTestApp({ emulators: { rateScale: 50 } });
  api = new CheckedApi(app.url);
});
afterAll(async () => {
  await app?.close();
});

type ErrorAnswer = { error: { code: string } };
const admin = { principal: ADMIN };
let connectionId: string;
let exportId: string;
let runId: string;

const waitForRun = async (id: string): Promise<RunResource> => {
  for (const deadline = Date.now() + 30_000; ; ) {
    const run = (await api.call<RunResource>('GET', `runs/${id}`, admin)).body;
    if (!['queued', 'planning', 'running'].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} did not finish: ${JSON.stringify(run)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

describe('answers as the OpenAPI description says', () => {
  it('serves the description itself without a principal, and the health check', async () => {
    const served = await api.call('GET', 'openapi.json', { principal: null });
    expect(served.status).toBe(200);
    expect(served.body).toEqual(openApiDocument());
    expect((await api.call('GET', 'health', { principal: null })).status).toBe(200);
  });

  it('tells a signed-in caller who they are, and refuses a missing principal', async () => {
    expect((await api.call('GET', 'me', admin)).body).toMatchObject({ roles: ['Admin'] });
    expect((await api.call('GET', 'me', { principal: null })).status).toBe(401);
  });

  it('connects a provider, and refuses a missing principal, a Contributor, a missing consent and a wrong key', async () => {
    const body = { displayName: 'Iterable', provider: 'iterable', apiKey: app.emulators.iterable.apiKeys[0], allowContributors: true };
    expect((await api.call('POST', 'connections', { principal: null, json: { ...body, acceptPrivacyTerms: true } })).status).toBe(401);
    expect((await api.call('POST', 'connections', { principal: CONTRIBUTOR, json: { ...body, acceptPrivacyTerms: true } })).status).toBe(403);
    const unconsented = await api.call<ErrorAnswer>('POST', 'connections', { ...admin, json: body });
    expect([unconsented.status, unconsented.body.error.code]).toEqual([400, 'consent_required']);
    const wrongKey = await api.call<ErrorAnswer>('POST', 'connections', { ...admin, json: { ...body, apiKey: 'not-a-key', acceptPrivacyTerms: true } });
    expect([wrongKey.status, wrongKey.body.error.code]).toEqual([422, 'provider_auth_failed']);
    const created = await api.call<{ id: string }>('POST', 'connections', { ...admin, json: { ...body, acceptPrivacyTerms: true } });
    expect(created.status).toBe(201);
    connectionId = created.body.id;
  });

  it('lists, reads and changes connections; an unknown one is a 404', async () => {
    expect((await api.call('GET', 'connections', { principal: CONTRIBUTOR })).status).toBe(200);
    expect((await api.call('GET', `connections/${connectionId}`, admin)).status).toBe(200);
    expect((await api.call('GET', 'connections/no-such-connection', admin)).status).toBe(404);
    expect((await api.call('PATCH', `connections/${connectionId}`, { ...admin, json: { displayName: 'Iterable (renamed)' } })).status).toBe(200);
  });

  it('uploads segments, and refuses a malformed CSV and a body that is not CSV or NDJSON', async () => {
    const members = [
      { id: '1', email: 'a@example.com', firstName: 'A' },
      { id: '2', email: 'not-an-email', firstName: 'B' },
    ];
    const uploaded = await api.call('PUT', 'segments/people?name=People', { principal: CONTRIBUTOR, body: segmentCsv(members), contentType: 'text/csv' });
    expect(uploaded.status).toBe(200);
    const ndjson = '{"CustomerId":"9","Email":"z@example.com"}\n';
    expect((await api.call('PUT', 'segments/spare', { ...admin, body: ndjson, contentType: 'application/x-ndjson' })).status).toBe(200);
    const malformed = await api.call<ErrorAnswer>('PUT', 'segments/broken', { ...admin, body: 'CustomerId,Email\n1,"a@example.com\n', contentType: 'text/csv' });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'segment_csv_malformed']);
    expect((await api.call('PUT', 'segments/broken', { ...admin, json: {} })).status).toBe(415);
  });

  it('lists and reads segments; an unknown one is a 404, a malformed id a 400', async () => {
    expect((await api.call('GET', 'segments', admin)).status).toBe(200);
    expect((await api.call('GET', 'segments/people', admin)).status).toBe(200);
    expect((await api.call('GET', 'segments/nobody', admin)).status).toBe(404);
    expect((await api.call('GET', 'segments/-bad-', admin)).status).toBe(400);
  });

  it('creates, lists, reads and changes exports, and refuses an invalid one', async () => {
    const body = { name: 'People to Iterable', connectionId, segmentIds: ['people'], mapping: { email: 'Email', firstName: 'FirstName' } };
    const invalid = await api.call<ErrorAnswer>('POST', 'exports', { ...admin, json: { ...body, mapping: { email: 'Mail' } } });
    expect([invalid.status, invalid.body.error.code]).toEqual([400, 'validation_failed']);
    const created = await api.call<{ id: string }>('POST', 'exports', { principal: CONTRIBUTOR, json: body });
    expect(created.status).toBe(201);
    exportId = created.body.id;
    expect((await api.call('GET', 'exports', admin)).status).toBe(200);
    expect((await api.call('GET', `exports/${exportId}`, { principal: CONTRIBUTOR })).status).toBe(200);
    expect((await api.call('PATCH', `exports/${exportId}`, { ...admin, json: { name: 'People (renamed)' } })).status).toBe(200);
  });

  it('runs an export and reads the run, its history and its rejects; a forged page token is a 400', async () => {
    const started = await api.call<{ runId: string }>('POST', `exports/${exportId}/runs`, admin);
    expect(started.status).toBe(202);
    runId = started.body.runId;
    expect((await waitForRun(runId)).status).toBe('succeeded');
    expect((await api.call('GET', `exports/${exportId}/runs`, admin)).status).toBe(200);
    const rejects = await api.call<{ items: { code: string }[] }>('GET', `runs/${runId}/rejects`, admin);
    expect(rejects.body.items.map((item) => item.code)).toEqual(['invalid_email']);
    expect((await api.call('GET', `runs/${runId}/rejects?continuationToken=forged`, admin)).status).toBe(400);
    expect((await api.call('GET', 'runs/no-such-run', admin)).status).toBe(404);
    expect((await api.call('POST', `runs/${runId}/cancel`, admin)).status).toBe(202);
  });

  it('runs the scheduled refresh for an Admin only', async () => {
    expect((await api.call('POST', 'refresh', { principal: CONTRIBUTOR })).status).toBe(403);
    const refreshed = await api.call<{ runs: RunResource[] }>('POST', 'refresh', admin);
    expect(refreshed.status).toBe(202);
    for (const run of refreshed.body.runs) await waitForRun(run.runId);
  });

  it('creates, lists, reads, changes, scans and deletes a segment source, for Admins only', async () => {
    const body = { displayName: 'Customer Insights', kind: 'cdm-folder', location: { container: 'ci-exports', prefix: 'CustomerInsights_1/Export' } };
    expect((await api.call('POST', 'sources', { principal: CONTRIBUTOR, json: body })).status).toBe(403);
    const foreign = await api.call<ErrorAnswer>('POST', 'sources', { ...admin, json: { ...body, location: { ...body.location, accountUrl: 'https://attacker.example.com' } } });
    expect([foreign.status, foreign.body.error.code]).toEqual([400, 'source_account_not_allowed']);
    const created = await api.call<{ id: string }>('POST', 'sources', { ...admin, json: body });
    expect(created.status).toBe(201);
    const sourceId = created.body.id;
    expect((await api.call('GET', 'sources', admin)).status).toBe(200);
    expect((await api.call('GET', `sources/${sourceId}`, admin)).status).toBe(200);
    expect((await api.call('GET', 'sources/no-such-source', admin)).status).toBe(404);
    expect((await api.call('PATCH', `sources/${sourceId}`, { ...admin, json: { runExports: false } })).status).toBe(200);
    expect((await api.call('POST', `sources/${sourceId}/scan`, admin)).status).toBe(202);
    expect((await api.call('DELETE', `sources/${sourceId}`, admin)).status).toBe(204);
  });

  it('refuses a Brevo webhook with an unknown token', async () => {
    expect((await api.call('POST', 'webhooks/brevo/unknown-token', { principal: null, json: {} })).status).toBe(404);
  });

  it('reads the audit log, tests receivers, erases a person and lifts the suppression, for Admins only where it says so', async () => {
    expect((await api.call('GET', 'audit', { principal: CONTRIBUTOR })).status).toBe(403);
    const audit = await api.call<{ items: { resourceType: string }[] }>('GET', 'audit?resourceType=export', admin);
    expect(audit.body.items.length).toBeGreaterThan(0);
    expect((await api.call('GET', 'audit?continuationToken=forged', admin)).status).toBe(400);
    const tested = await api.call<{ results: unknown[] }>('POST', `exports/${exportId}/notifications/test`, { principal: CONTRIBUTOR });
    expect([tested.status, tested.body.results]).toEqual([200, []]);
    expect((await api.call('POST', 'privacy/erasures', { principal: CONTRIBUTOR, json: { email: 'a@example.com' } })).status).toBe(403);
    expect((await api.call('POST', 'privacy/erasures', { ...admin, json: { email: 'not-an-email' } })).status).toBe(400);
    const erasure = await api.call<{ erasureId: string; statusUrl: string }>('POST', 'privacy/erasures', { ...admin, json: { email: 'a@example.com' } });
    expect(erasure.status).toBe(202);
    expect((await api.call('GET', `privacy/erasures/${erasure.body.erasureId}`, admin)).status).toBe(200);
    expect((await api.call('GET', 'privacy/erasures/er-unknown-000', admin)).status).toBe(404);
    expect((await api.call('DELETE', `privacy/suppressions/${encodeURIComponent('a@example.com')}`, admin)).status).toBe(204);
    expect((await api.call('DELETE', `privacy/suppressions/${encodeURIComponent('a@example.com')}`, admin)).status).toBe(404);
  });

  it('deletes, answering 409 while something still uses what is deleted', async () => {
    expect((await api.call<ErrorAnswer>('DELETE', 'segments/people', admin)).body.error.code).toBe('segment_in_use');
    expect((await api.call<ErrorAnswer>('DELETE', `connections/${connectionId}`, admin)).body.error.code).toBe('conflict');
    expect((await api.call('DELETE', `exports/${exportId}`, { principal: CONTRIBUTOR })).status).toBe(204);
    expect((await api.call('DELETE', 'segments/people', admin)).status).toBe(204);
    expect((await api.call('DELETE', `connections/${connectionId}`, admin)).status).toBe(204);
  });

  it('has exercised every operation of the description', () => {
    expect([...api.exercised].sort()).toEqual(api.checker.operationKeys());
  });
});
