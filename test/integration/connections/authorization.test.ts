import path from 'node:path';
import { InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditList } from '../../../functions/audit-list';
import { connectionsCreate } from '../../../functions/connections-create';
import { connectionsDelete } from '../../../functions/connections-delete';
import { connectionsGet } from '../../../functions/connections-get';
import { connectionsList } from '../../../functions/connections-list';
import { connectionsUpdate } from '../../../functions/connections-update';
import { exportsCreate } from '../../../functions/exports-create';
import { exportsDelete } from '../../../functions/exports-delete';
import { exportsGet } from '../../../functions/exports-get';
import { exportsList } from '../../../functions/exports-list';
import { exportsUpdate } from '../../../functions/exports-update';
import { health } from '../../../functions/health';
import { me } from '../../../functions/me';
import { notificationsTest } from '../../../functions/notifications-test';
import { openapi } from '../../../functions/openapi';
import { privacyErasuresCreate } from '../../../functions/privacy-erasures-create';
import { privacyErasuresGet } from '../../../functions/privacy-erasures-get';
import { privacySuppressionsDelete } from '../../../functions/privacy-suppressions-delete';
import { refreshNow } from '../../../functions/refresh-now';
import { runsCancel } from '../../../functions/runs-cancel';
import { runsGet } from '../../../functions/runs-get';
import { runsList } from '../../../functions/runs-list';
import { runsRejects } from '../../../functions/runs-rejects';
import { runsStart } from '../../../functions/runs-start';
import { segmentsDelete } from '../../../functions/segments-delete';
import { segmentsGet } from '../../../functions/segments-get';
import { segmentsList } from '../../../functions/segments-list';
import { segmentsPut } from '../../../functions/segments-put';
import { sourcesCreate } from '../../../functions/sources-create';
import { sourcesDelete } from '../../../functions/sources-delete';
import { sourcesGet } from '../../../functions/sources-get';
import { sourcesList } from '../../../functions/sources-list';
import { sourcesScan } from '../../../functions/sources-scan';
import { sourcesUpdate } from '../../../functions/sources-update';
import { webhookBrevo } from '../../../functions/webhook-brevo';
import type { HttpDefinition } from '../../../src/app/definitions';
import type { Connection } from '../../../src/domain/connection';
import type { Export } from '../../../src/domain/export';
import { createExportRow } from '../../../src/exports/repository';
import { createRun } from '../../../src/pipeline/run-state';
import { loadDefinitions } from '../../../dev/local/load-definitions';
import { startEmulators, type Emulators } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { ADMIN, CONTRIBUTOR, invokeHttp, principalHeader, type InvokeOptions, type Principal } from '../../support/http';
import { gatedBody, upload } from '../segments/helpers';
import { streamingRequest } from '../../support/streaming';
import { seedConnection } from './seed';

let emulators: Emulators;
let context: TestContext;
let shared: Connection;
let restricted: Connection;
/** Connections that exports use (Iterable: saving an export calls no provider). */
let open: Connection;
let closed: Connection;

/**
 * Segments by who uses them: `open-seg` no export, `shared-seg` only the export on a connection
 * Contributors may use, `restricted-seg` only the one on an Admins-only connection, `mixed-seg` both.
 */
const SEGMENT_CSV = 'id,email\n1,ada@example.com\n';
const EXPORTS = { shared: 'exp-shared', restricted: 'exp-restricted' } as const;
const RUNS = { shared: 'run-shared', restricted: 'run-restricted' } as const;

async function seedExportsAndRuns(): Promise<void> {
  open = await seedConnection(context, { displayName: 'Open', provider: 'iterable', allowContributors: true });
  closed = await seedConnection(context, { displayName: 'Closed', provider: 'iterable', allowContributors: false });
  for (const segmentId of ['open-seg', 'shared-seg', 'restricted-seg', 'mixed-seg']) expect((await upload(segmentId, SEGMENT_CSV)).status).toBe(200);
  const now = '2026-01-01T00:00:00.000Z';
  const exportOn = (id: string, connectionId: string, segmentIds: string[]): Export => ({
    id,
    name: id,
    connectionId,
    segmentIds,
    mapping: { email: 'email' },
    options: {},
    createdAt: now,
    createdBy: 'oid-ada',
    updatedAt: now,
    updatedBy: 'oid-ada',
  });
  const sharedExport = exportOn(EXPORTS.shared, open.id, ['shared-seg', 'mixed-seg']);
  const restrictedExport = exportOn(EXPORTS.restricted, closed.id, ['restricted-seg', 'mixed-seg']);
  await createExportRow(context, sharedExport);
  await createExportRow(context, restrictedExport);
  const runOptions = { trigger: 'on-demand', mode: 'full', dryRun: false, requestedBy: 'oid-ada', provider: 'iterable' } as const;
  await createRun(context, sharedExport, RUNS.shared, 'queued', runOptions);
  await createRun(context, restrictedExport, RUNS.restricted, 'queued', runOptions);
}

beforeAll(async () => {
  emulators = await startEmulators();
});
afterAll(async () => {
  await emulators.close();
});
beforeEach(async () => {
  context = await createTestContext({ env: emulators.env });
  shared = await seedConnection(context, { displayName: 'Shared', allowContributors: true });
  restricted = await seedConnection(context, { displayName: 'Admins only', allowContributors: false });
  await seedExportsAndRuns();
});

type Who = 'nobody' | 'Contributor' | 'Admin';
const PRINCIPALS: Record<Who, Principal | undefined> = { nobody: undefined, Contributor: CONTRIBUTOR, Admin: ADMIN };

interface Route {
  name: string;
  definition: HttpDefinition;
  request: () => InvokeOptions;
  expected: Record<Who, number>;
}

const ROUTES: Route[] = [
  {
    name: 'POST /connections',
    definition: connectionsCreate,
    request: () => ({
      json: {
        displayName: 'Created',
        provider: 'brevo',
        apiKey: emulators.brevo.apiKeys[0],
        acceptPrivacyTerms: true,
      },
    }),
    expected: { nobody: 401, Contributor: 403, Admin: 201 },
  },
  { name: 'GET /connections', definition: connectionsList, request: () => ({}), expected: { nobody: 401, Contributor: 200, Admin: 200 } },
  {
    name: 'GET /connections/{id} (allows contributors)',
    definition: connectionsGet,
    request: () => ({ params: { connectionId: shared.id } }),
    expected: { nobody: 401, Contributor: 200, Admin: 200 },
  },
  {
    name: 'GET /connections/{id} (does not allow contributors)',
    definition: connectionsGet,
    request: () => ({ params: { connectionId: restricted.id } }),
    expected: { nobody: 401, Contributor: 404, Admin: 200 },
  },
  {
    name: 'PATCH /connections/{id} (allows contributors)',
    definition: connectionsUpdate,
    request: () => ({ params: { connectionId: shared.id }, json: { displayName: 'Renamed' } }),
    expected: { nobody: 401, Contributor: 403, Admin: 200 },
  },
  {
    name: 'PATCH /connections/{id} (does not allow contributors)',
    definition: connectionsUpdate,
    request: () => ({ params: { connectionId: restricted.id }, json: { allowContributors: true } }),
    expected: { nobody: 401, Contributor: 403, Admin: 200 },
  },
  {
    name: 'DELETE /connections/{id} (allows contributors)',
    definition: connectionsDelete,
    request: () => ({ params: { connectionId: shared.id } }),
    expected: { nobody: 401, Contributor: 403, Admin: 204 },
  },
  {
    name: 'DELETE /connections/{id} (does not allow contributors)',
    definition: connectionsDelete,
    request: () => ({ params: { connectionId: restricted.id } }),
    expected: { nobody: 401, Contributor: 403, Admin: 204 },
  },
  // exports
  { name: 'GET /exports', definition: exportsList, request: () => ({}), expected: { nobody: 401, Contributor: 200, Admin: 200 } },
  ...onEachExport('GET /exports/{id}', exportsGet, () => ({}), 200),
  ...onEachExport('PATCH /exports/{id}', exportsUpdate, () => ({ json: { name: 'Renamed' } }), 200),
  ...onEachExport('DELETE /exports/{id}', exportsDelete, () => ({}), 204),
  {
    name: 'POST /exports (connection allows contributors)',
    definition: exportsCreate,
    request: () => ({ json: { name: 'New', connectionId: open.id, segmentIds: ['shared-seg'], mapping: { email: 'email' } } }),
    expected: { nobody: 401, Contributor: 201, Admin: 201 },
  },
  {
    name: 'POST /exports (connection does not allow contributors)',
    definition: exportsCreate,
    request: () => ({ json: { name: 'New', connectionId: closed.id, segmentIds: ['shared-seg'], mapping: { email: 'email' } } }),
    expected: { nobody: 401, Contributor: 400, Admin: 201 },
  },
  // runs
  ...onEachExport('POST /exports/{id}/runs', runsStart, () => ({}), 202),
  ...onEachExport('GET /exports/{id}/runs', runsList, () => ({}), 200),
  ...onEachRun('GET /runs/{runId}', runsGet, 200),
  ...onEachRun('GET /runs/{runId}/rejects', runsRejects, 200),
  ...onEachRun('POST /runs/{runId}/cancel', runsCancel, 202),
  { name: 'POST /refresh', definition: refreshNow, request: () => ({}), expected: { nobody: 401, Contributor: 403, Admin: 202 } },
  // segments
  { name: 'GET /segments', definition: segmentsList, request: () => ({}), expected: { nobody: 401, Contributor: 200, Admin: 200 } },
  ...onSegments('GET /segments/{id}', segmentsGet, () => ({}), { 'open-seg': 200, 'shared-seg': 200, 'mixed-seg': 200, 'restricted-seg': 404 }, 200),
  ...onSegments(
    'PUT /segments/{id}',
    segmentsPut,
    () => ({ body: SEGMENT_CSV, headers: { 'content-type': 'text/csv' } }),
    { 'new-seg': 200, 'open-seg': 200, 'shared-seg': 200, 'mixed-seg': 403, 'restricted-seg': 404 },
    200,
  ),
  ...onSegments(
    'DELETE /segments/{id}',
    segmentsDelete,
    () => ({}),
    { 'open-seg': 204, 'shared-seg': 409, 'mixed-seg': 403, 'restricted-seg': 404 },
    { 'open-seg': 204, 'shared-seg': 409, 'mixed-seg': 409, 'restricted-seg': 409 },
  ),
  // outside App Service Authentication: no principal needed, none used
  { name: 'GET /health', definition: health, request: () => ({}), expected: { nobody: 200, Contributor: 200, Admin: 200 } },
  { name: 'GET /openapi.json', definition: openapi, request: () => ({}), expected: { nobody: 200, Contributor: 200, Admin: 200 } },
  // any signed-in caller: who the API takes them for
  { name: 'GET /me', definition: me, request: () => ({}), expected: { nobody: 401, Contributor: 200, Admin: 200 } },
  // segment sources: Admins only
  { name: 'GET /sources', definition: sourcesList, request: () => ({}), expected: { nobody: 401, Contributor: 403, Admin: 200 } },
  {
    name: 'POST /sources',
    definition: sourcesCreate,
    request: () => ({ json: { displayName: 'CI exports', kind: 'cdm-folder', location: { container: 'ci-exports' } } }),
    expected: { nobody: 401, Contributor: 403, Admin: 201 },
  },
  { name: 'GET /sources/{id} (unknown)', definition: sourcesGet, request: () => ({ params: { sourceId: 'src-unknown' } }), expected: { nobody: 401, Contributor: 403, Admin: 404 } },
  {
    name: 'PATCH /sources/{id} (unknown)',
    definition: sourcesUpdate,
    request: () => ({ params: { sourceId: 'src-unknown' }, json: { displayName: 'x' } }),
    expected: { nobody: 401, Contributor: 403, Admin: 404 },
  },
  { name: 'DELETE /sources/{id} (unknown)', definition: sourcesDelete, request: () => ({ params: { sourceId: 'src-unknown' } }), expected: { nobody: 401, Contributor: 403, Admin: 404 } },
  { name: 'POST /sources/{id}/scan (unknown)', definition: sourcesScan, request: () => ({ params: { sourceId: 'src-unknown' } }), expected: { nobody: 401, Contributor: 403, Admin: 404 } },
  // operations (issue 17): the audit log and privacy are Admins' only; a receiver test follows the export
  { name: 'GET /audit', definition: auditList, request: () => ({}), expected: { nobody: 401, Contributor: 403, Admin: 200 } },
  ...onEachExport('POST /exports/{id}/notifications/test', notificationsTest, () => ({}), 200),
  {
    name: 'POST /privacy/erasures',
    definition: privacyErasuresCreate,
    request: () => ({ json: { email: 'nobody-here@example.com' } }),
    expected: { nobody: 401, Contributor: 403, Admin: 202 },
  },
  {
    name: 'GET /privacy/erasures/{id} (unknown)',
    definition: privacyErasuresGet,
    request: () => ({ params: { erasureId: 'er-unknown-000' } }),
    expected: { nobody: 401, Contributor: 403, Admin: 404 },
  },
  {
    name: 'DELETE /privacy/suppressions/{email} (none)',
    definition: privacySuppressionsDelete,
    request: () => ({ params: { email: 'never-erased@example.com' } }),
    expected: { nobody: 401, Contributor: 403, Admin: 404 },
  },
  {
    name: 'POST /webhooks/brevo/{token} (unknown token)',
    definition: webhookBrevo,
    request: () => ({ params: { token: 'unknown-token-0123456789' } }),
    expected: { nobody: 404, Contributor: 404, Admin: 404 },
  },
];

function onEachExport(name: string, definition: HttpDefinition, request: () => InvokeOptions, ok: number): Route[] {
  return [
    { name: `${name} (connection allows contributors)`, definition, request: () => ({ ...request(), params: { exportId: EXPORTS.shared } }), expected: { nobody: 401, Contributor: ok, Admin: ok } },
    { name: `${name} (connection does not allow contributors)`, definition, request: () => ({ ...request(), params: { exportId: EXPORTS.restricted } }), expected: { nobody: 401, Contributor: 404, Admin: ok } },
  ];
}

function onEachRun(name: string, definition: HttpDefinition, ok: number): Route[] {
  return [
    { name: `${name} (export on a connection that allows contributors)`, definition, request: () => ({ params: { runId: RUNS.shared } }), expected: { nobody: 401, Contributor: ok, Admin: ok } },
    { name: `${name} (export on an Admins-only connection)`, definition, request: () => ({ params: { runId: RUNS.restricted } }), expected: { nobody: 401, Contributor: 404, Admin: ok } },
  ];
}

function onSegments(
  name: string,
  definition: HttpDefinition,
  request: () => InvokeOptions,
  contributor: Record<string, number>,
  admin: number | Record<string, number>,
): Route[] {
  return Object.entries(contributor).map(([segmentId, status]) => ({
    name: `${name} (${segmentId})`,
    definition,
    request: () => ({ ...request(), params: { segmentId } }),
    expected: { nobody: 401, Contributor: status, Admin: typeof admin === 'number' ? admin : admin[segmentId]! },
  }));
}

/** What an Admin sees of segments, exports and runs. */
async function snapshot(): Promise<unknown> {
  const [segments, exports, ...runs] = await Promise.all([
    invokeHttp(segmentsList, { principal: ADMIN }),
    invokeHttp(exportsList, { principal: ADMIN }),
    ...Object.values(RUNS).map((runId) => invokeHttp(runsGet, { principal: ADMIN, params: { runId } })),
  ]);
  return { segments: segments.body, exports: exports.body, runs: runs.map((run) => run.body) };
}

const CASES = ROUTES.flatMap((route) => (Object.keys(PRINCIPALS) as Who[]).map((who) => ({ route, who }) as const));

describe('who may do what: every route', () => {
  it('covers every HTTP function the app registers', async () => {
    const registered = (await loadDefinitions(path.join(__dirname, '..', '..', '..', 'functions'))).filter((definition) => definition.kind === 'http');
    // `web` serves the page's files (outside /api, no data): the browser tests cover it.
    const covered = new Set([...ROUTES.map((route) => route.definition.name), 'web']);
    expect(registered.map((definition) => definition.name).filter((name) => !covered.has(name))).toEqual([]);
  });
});

describe('who may do what with connections', () => {
  it.each(CASES.map(({ route, who }) => [route.name, who, route.expected[who], route] as const))(
    '%s as %s → %i',
    async (_name, who, status, route) => {
      const response = await invokeHttp(route.definition, { ...route.request(), principal: PRINCIPALS[who] });
      expect(response.status, response.text).toBe(status);
      if (status >= 400) {
        const code = { 400: 'validation_failed', 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found', 409: 'segment_in_use' }[status];
        expect(response.body).toMatchObject({ error: { code } });
      }
    },
  );

  it('changes nothing when it refuses', async () => {
    const before = await snapshot();
    for (const route of ROUTES) {
      for (const who of ['nobody', 'Contributor'] as const) {
        if (route.expected[who] < 400) continue;
        await invokeHttp(route.definition, { ...route.request(), principal: PRINCIPALS[who] });
      }
    }
    const list = await invokeHttp(connectionsList, { principal: ADMIN });
    expect((list.body as { items: { displayName: string }[] }).items.map((item) => item.displayName)).toEqual(['Admins only', 'Closed', 'Open', 'Shared']);
    expect(await context.secrets.getSecret(restricted.secretName, { version: restricted.secretVersion })).toBeDefined();
    expect(await snapshot()).toEqual(before);
  });

  it('lists for a Contributor only the connections that allow contributors, without consent', async () => {
    const response = await invokeHttp(connectionsList, { principal: CONTRIBUTOR });
    const items = (response.body as { items: Record<string, unknown>[] }).items;
    expect(items.map((item) => item.id).sort()).toEqual([shared.id, open.id].sort());
    for (const item of items) expect(item).not.toHaveProperty('consent');
    const admin = await invokeHttp(connectionsList, { principal: ADMIN });
    const adminItems = (admin.body as { items: Record<string, unknown>[] }).items;
    expect(adminItems).toHaveLength(4);
    for (const item of adminItems) expect(item).toHaveProperty('consent.acceptedBy', 'ada@example.com');
  });

  it('hides consent from a Contributor reading one connection', async () => {
    const response = await invokeHttp(connectionsGet, { principal: CONTRIBUTOR, params: { connectionId: shared.id } });
    expect(response.body).not.toHaveProperty('consent');
  });

  it.each([
    ['not base64 JSON', '%%%'],
    ['JSON without claims', Buffer.from('{"auth_typ":"aad"}').toString('base64')],
    ['claims without a user', Buffer.from(JSON.stringify({ claims: [{ typ: 'roles', val: 'Admin' }] })).toString('base64')],
  ])('answers 401 for a principal that is %s', async (_what, header) => {
    const response = await invokeHttp(connectionsList, { headers: { 'x-ms-client-principal': header } });
    expect(response.status).toBe(401);
  });

  it('answers 403 for a signed-in user without an app role, and reads role claims case-insensitively', async () => {
    const none = await invokeHttp(connectionsList, { principal: { name: 'eve@example.com', roles: ['Reader'] } });
    expect(none.status).toBe(403);
    const lowerCase = await invokeHttp(connectionsGet, {
      headers: { 'x-ms-client-principal': principalHeader({ name: 'ada@example.com', roles: ['admin'] }) },
      params: { connectionId: restricted.id },
    });
    expect(lowerCase.status).toBe(200);
  });
});

describe('finding 1: a Contributor cannot reach an Admins-only connection through a segment', () => {
  const segmentVersion = async (segmentId: string) =>
    ((await invokeHttp(segmentsGet, { principal: ADMIN, params: { segmentId } })).body as { version: string }).version;

  it('neither replaces nor deletes a segment an Admins-only export reads, and learns nothing of that export', async () => {
    const versions = { restricted: await segmentVersion('restricted-seg'), mixed: await segmentVersion('mixed-seg') };
    const contributorUpload = (segmentId: string) => upload(segmentId, 'id,email\n1,carl@example.com\n', { principal: CONTRIBUTOR });

    expect((await contributorUpload('restricted-seg')).status).toBe(404);
    const mixed = await contributorUpload('mixed-seg');
    expect(mixed.status).toBe(403);
    const deleted = await invokeHttp(segmentsDelete, { principal: CONTRIBUTOR, params: { segmentId: 'mixed-seg' } });
    expect(deleted.status).toBe(403);
    for (const response of [mixed, deleted]) expect(response.text).not.toContain(EXPORTS.restricted);

    expect({ restricted: await segmentVersion('restricted-seg'), mixed: await segmentVersion('mixed-seg') }).toEqual(versions);
    const listed = (await invokeHttp(segmentsList, { principal: CONTRIBUTOR })).body as { items: { id: string }[] };
    expect(listed.items.map((item) => item.id).sort()).toEqual(['mixed-seg', 'open-seg', 'shared-seg']);
  });

  it('names only exports the Contributor may see when a delete is refused as in use', async () => {
    const response = await invokeHttp(segmentsDelete, { principal: CONTRIBUTOR, params: { segmentId: 'shared-seg' } });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ error: { code: 'segment_in_use', details: { exportIds: [EXPORTS.shared] } } });
  });

  it('refuses an upload that an Admin made reach an Admins-only export while it streamed, and keeps the version', async () => {
    const version = await segmentVersion('shared-seg');
    const gated = gatedBody('id,email\n', '1,carl@example.com\n');
    const request = streamingRequest({
      method: 'PUT',
      url: 'http://localhost:7071/api/segments/shared-seg',
      headers: { 'content-type': 'text/csv' },
      principal: CONTRIBUTOR,
      params: { segmentId: 'shared-seg' },
      body: ReadableStream.from(gated.body),
    });
    const uploading = segmentsPut.options.handler(request, new InvocationContext({ functionName: segmentsPut.name }));
    await gated.reachedGate;
    const patched = await invokeHttp(exportsUpdate, { principal: ADMIN, params: { exportId: EXPORTS.restricted }, json: { segmentIds: ['restricted-seg', 'shared-seg'] } });
    expect(patched.status).toBe(200);
    gated.release();
    const response = await uploading;
    expect(response).toMatchObject({ status: 403 });
    expect(await segmentVersion('shared-seg')).toBe(version);
  });
});
