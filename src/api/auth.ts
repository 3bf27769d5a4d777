import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { ROLES, type Role } from '../domain/session';
import { Errors } from '../errors';

/**
 * Who is calling, from the `x-ms-client-principal` header that App Service Authentication sets
 * (clients cannot forge it while authentication is on), and the one place that decides what each
 * role may do.
 */
export { ROLES, type Role };

export interface Principal {
  userId: string;
  name: string;
  roles: ReadonlySet<Role>;
}

const clientPrincipalSchema = z.object({
  auth_typ: z.string().optional(),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })),
});

const USER_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid', 'sub'];
const NAME_CLAIMS = ['name', 'preferred_username', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'];
const MAX_HEADER_LENGTH = 64 * 1024;

export function readPrincipal(request: HttpRequest): Principal {
  const header = request.headers.get('x-ms-client-principal');
  if (!header || header.length > MAX_HEADER_LENGTH) throw Errors.unauthenticated();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    throw Errors.unauthenticated();
  }
  const parsed = clientPrincipalSchema.safeParse(decoded);
  if (!parsed.success) throw Errors.unauthenticated();
  const { claims, name_typ: nameType, role_typ: roleType } = parsed.data;
  const claim = (types: readonly string[]) => claims.find((c) => types.includes(c.typ))?.val;
  const userId = claim(USER_ID_CLAIMS) ?? request.headers.get('x-ms-client-principal-id') ?? undefined;
  const name = claim(nameType ? [nameType, ...NAME_CLAIMS] : NAME_CLAIMS) ?? request.headers.get('x-ms-client-principal-name') ?? userId;
  if (!userId || !name) throw Errors.unauthenticated();
  const roles = new Set<Role>();
  for (const { typ, val } of claims) {
    if (typ !== 'roles' && typ !== roleType) continue;
    const role = ROLES.find((known) => known.toLowerCase() === val.trim().toLowerCase());
    if (role) roles.add(role);
  }
  return { userId, name, roles };
}

/** What a request wants to do; resource-level rules (which connections) are in `canUseConnection`. */
export type Action =
  | 'connection:manage'
  | 'connection:read'
  | 'segment:read'
  | 'segment:write'
  | 'export:read'
  | 'export:write'
  | 'run:read'
  | 'run:start'
  | 'refresh:run';

const ALLOWED: Record<Action, readonly Role[]> = {
  'connection:manage': ['Admin'],
  'connection:read': ['Admin', 'Contributor'],
  'segment:read': ['Admin', 'Contributor'],
  'segment:write': ['Admin', 'Contributor'],
  'export:read': ['Admin', 'Contributor'],
  'export:write': ['Admin', 'Contributor'],
  'run:read': ['Admin', 'Contributor'],
  'run:start': ['Admin', 'Contributor'],
  'refresh:run': ['Admin'],
};

const DESCRIPTIONS: Record<Action, string> = {
  'connection:manage': 'create, change or delete connections',
  'connection:read': 'read connections',
  'segment:read': 'read segments',
  'segment:write': 'upload or delete segments',
  'export:read': 'read exports',
  'export:write': 'create, change or delete exports',
  'run:read': 'read runs',
  'run:start': 'start or cancel runs',
  'refresh:run': 'run the scheduled refresh',
};

export function isAdmin(principal: Principal): boolean {
  return principal.roles.has('Admin');
}

export function can(principal: Principal, action: Action): boolean {
  return ALLOWED[action].some((role) => principal.roles.has(role));
}

/** Reads the principal and checks the action: 401 without a principal, 403 without the role. */
export function authorize(request: HttpRequest, action: Action): Principal {
  const principal = readPrincipal(request);
  if (!can(principal, action)) throw Errors.forbidden(DESCRIPTIONS[action]);
  return principal;
}

/** A Contributor may only see and use connections that allow contributors. */
export function canUseConnection(principal: Principal, connection: { allowContributors: boolean }): boolean {
  return isAdmin(principal) || (principal.roles.has('Contributor') && connection.allowContributors);
}
