import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectionsCreate } from '../../../functions/connections-create';
import { connectionsDelete } from '../../../functions/connections-delete';
import { connectionsGet } from '../../../functions/connections-get';
import { connectionsList } from '../../../functions/connections-list';
import { connectionsUpdate } from '../../../functions/connections-update';
import type { HttpDefinition } from '../../../src/app/definitions';
import type { Connection } from '../../../src/domain/connection';
import { startEmulators, type Emulators } from '../../../dev/emulators';
import { createTestContext, type TestContext } from '../../support/context';
import { ADMIN, CONTRIBUTOR, invokeHttp, principalHeader, type InvokeOptions, type Principal } from '../../support/http';
import { seedConnection } from './seed';

let emulators: Emulators;
let context: TestContext;
let shared: Connection;
let restricted: Connection;

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
];

const CASES = ROUTES.flatMap((route) => (Object.keys(PRINCIPALS) as Who[]).map((who) => ({ route, who }) as const));

describe('who may do what with connections', () => {
  it.each(CASES.map(({ route, who }) => [route.name, who, route.expected[who], route] as const))(
    '%s as %s → %i',
    async (_name, who, status, route) => {
      const response = await invokeHttp(route.definition, { ...route.request(), principal: PRINCIPALS[who] });
      expect(response.status, response.text).toBe(status);
      if (status >= 400) {
        const code = { 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found' }[status];
        expect(response.body).toMatchObject({ error: { code } });
      }
    },
  );

  it('changes nothing when it refuses', async () => {
    for (const route of ROUTES) {
      for (const who of ['nobody', 'Contributor'] as const) {
        if (route.expected[who] < 400) continue;
        await invokeHttp(route.definition, { ...route.request(), principal: PRINCIPALS[who] });
      }
    }
    const list = await invokeHttp(connectionsList, { principal: ADMIN });
    expect((list.body as { items: { displayName: string }[] }).items.map((item) => item.displayName)).toEqual(['Admins only', 'Shared']);
    expect(await context.secrets.getSecret(restricted.secretName, { version: restricted.secretVersion })).toBeDefined();
  });

  it('lists for a Contributor only the connections that allow contributors, without consent', async () => {
    const response = await invokeHttp(connectionsList, { principal: CONTRIBUTOR });
    const items = (response.body as { items: Record<string, unknown>[] }).items;
    expect(items.map((item) => item.id)).toEqual([shared.id]);
    expect(items[0]).not.toHaveProperty('consent');
    const admin = await invokeHttp(connectionsList, { principal: ADMIN });
    const adminItems = (admin.body as { items: Record<string, unknown>[] }).items;
    expect(adminItems).toHaveLength(2);
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
