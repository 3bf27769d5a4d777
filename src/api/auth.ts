// Who is calling, from the `x-ms-client-principal` header that App Service Authentication sets
// (clients cannot forge it while authentication is on). What each role may do is the pure policy
// of `src/domain/policy.ts`.
import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { peekAppContext } from '../app/context';
import { readPlatform, type Config } from '../config';
import { ACTION_DESCRIPTIONS, can, ROLES, type Action, type Principal, type Role } from '../domain/policy';
import { Errors } from '../errors';

// Who is calling, from the `x-ms-client-principal` header that App Service Authentication sets
// (clients cannot forge it while authentication is on). What each role may do is the pure policy
// of `src/domain/policy.ts`. In Azure the header is trusted only while App Service Authentication
// is on: without it anyone could send one.

const clientPrincipalSchema = z.object({
  auth_typ: z.string().optional(),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })),
});

const USER_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid', 'sub'];
const NAME_CLAIMS = ['name', 'preferred_username', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'];
const MAX_HEADER_LENGTH = 64 * 1024;

/**
 * Why the principal header cannot be trusted here: the app runs in App Service (`WEBSITE_SITE_NAME`)
 * without App Service Authentication (`WEBSITE_AUTH_ENABLED`). Undefined outside Azure (local host,
 * tests), where the caller sends the header itself.
 */
export function appServiceAuthProblem(config: Pick<Config, 'platform'>): string | undefined {
  const { siteName, appServiceAuthEnabled } = config.platform;
  if (siteName === undefined || appServiceAuthEnabled) return undefined;
  return `${Errors.authenticationOff().message}. Turn on App Service Authentication for '${siteName}' (the Bicep template does).`;
}

export function readPrincipal(request: HttpRequest): Principal {
  const platform = peekAppContext()?.config.platform ?? readPlatform(process.env);
  if (appServiceAuthProblem({ platform })) throw Errors.authenticationOff();
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

/** Reads the principal and checks the action: 401 without a principal, 403 without the role. */
export function authorize(request: HttpRequest, action: Action): Principal {
  const principal = readPrincipal(request);
  if (!can(principal, action)) throw Errors.forbidden(ACTION_DESCRIPTIONS[action]);
  return principal;
}
