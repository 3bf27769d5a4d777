import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { authorize, readPrincipal } from '../../../src/api/auth';
import { can, canUseConnection, segmentAccess, type Principal } from '../../../src/domain/policy';
import { isAppError } from '../../../src/errors';

const ROLE_TYPE = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';

function request(principal?: unknown, raw?: string): HttpRequest {
  const headers: Record<string, string> = {};
  if (raw !== undefined) headers['x-ms-client-principal'] = raw;
  else if (principal !== undefined) headers['x-ms-client-principal'] = Buffer.from(JSON.stringify(principal)).toString('base64');
  return new HttpRequest({ method: 'GET', url: 'http://localhost/api/connections', headers });
}

const claims = (...extra: { typ: string; val: string }[]) => ({
  auth_typ: 'aad',
  name_typ: 'name',
  role_typ: ROLE_TYPE,
  claims: [{ typ: 'oid', val: 'user-1' }, { typ: 'name', val: 'Ann Lee' }, ...extra],
});

function statusOf(action: () => unknown): number | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return isAppError(error) ? error.status : -1;
  }
}

describe('the principal App Service Authentication passes', () => {
  it('reads user id, name and roles from `roles` and the role_typ claims, case-insensitively', () => {
    const principal = readPrincipal(request(claims({ typ: 'roles', val: 'admin' }), undefined));
    expect(principal).toMatchObject({ userId: 'user-1', name: 'Ann Lee' });
    expect([...principal.roles]).toEqual(['Admin']);
    const viaRoleType = readPrincipal(request(claims({ typ: ROLE_TYPE, val: ' CONTRIBUTOR ' })));
    expect([...viaRoleType.roles]).toEqual(['Contributor']);
  });

  it('ignores unknown roles and role-like values in other claims', () => {
    const principal = readPrincipal(request(claims({ typ: 'roles', val: 'Owner' }, { typ: 'groups', val: 'Admin' })));
    expect(principal.roles.size).toBe(0);
  });

  it.each([
    ['no header', undefined, undefined],
    ['a header that is not base64 JSON', undefined, '!!not-json!!'],
    ['JSON of the wrong shape', { claims: 'Admin' }, undefined],
    ['no user id claim', { claims: [{ typ: 'roles', val: 'Admin' }] }, undefined],
    ['an oversized header', undefined, 'A'.repeat(70_000)],
  ])('answers 401 for %s', (_what, principal, raw) => {
    expect(statusOf(() => readPrincipal(request(principal, raw)))).toBe(401);
  });

  it('answers 403 when the role does not allow the action, and passes otherwise', () => {
    const contributor = request(claims({ typ: 'roles', val: 'Contributor' }));
    expect(statusOf(() => authorize(contributor, 'connection:manage'))).toBe(403);
    expect(statusOf(() => authorize(contributor, 'connection:read'))).toBeUndefined();
    expect(statusOf(() => authorize(request(claims()), 'connection:read'))).toBe(403);
  });
});

describe('which connections a principal may use', () => {
  const principal = (...roles: ('Admin' | 'Contributor')[]): Principal => ({ userId: 'u', name: 'n', roles: new Set(roles) });

  it('lets an Admin use and manage every connection', () => {
    expect(canUseConnection(principal('Admin'), { allowContributors: false })).toBe(true);
    expect(can(principal('Admin'), 'connection:manage')).toBe(true);
  });

  it('lets a Contributor use only connections that allow contributors, and manage none', () => {
    expect(canUseConnection(principal('Contributor'), { allowContributors: true })).toBe(true);
    expect(canUseConnection(principal('Contributor'), { allowContributors: false })).toBe(false);
    expect(can(principal('Contributor'), 'connection:manage')).toBe(false);
  });

  it('lets nobody without a role use a connection', () => {
    expect(canUseConnection(principal(), { allowContributors: true })).toBe(false);
  });
});

describe('what a principal may do with a segment, from the exports that use it', () => {
  const principal = (...roles: ('Admin' | 'Contributor')[]): Principal => ({ userId: 'u', name: 'n', roles: new Set(roles) });
  const open = { allowContributors: true };
  const closed = { allowContributors: false };

  it.each([
    ['Admin', ['Admin'], [closed, undefined], 'write'],
    ['Contributor, unused segment', ['Contributor'], [], 'write'],
    ['Contributor, only usable exports', ['Contributor'], [open, open], 'write'],
    ['Contributor, one Admins-only export among usable ones', ['Contributor'], [open, closed], 'read'],
    ['Contributor, only Admins-only exports', ['Contributor'], [closed], 'none'],
    ['Contributor, an export whose connection is gone', ['Contributor'], [undefined], 'none'],
    ['no role', [], [], 'none'],
  ] as const)('%s -> %s', (_what, roles, usedBy, access) => {
    expect(segmentAccess(principal(...roles), usedBy)).toBe(access);
  });
});
