import type { IncomingMessage, ServerResponse } from 'node:http';
import { LOCAL_SESSION_PATH, localSessionBodySchema, roleSchema, type LocalSession } from '../../src/domain/session';
import type { Role } from '../../src/domain/policy';

// The web app's role switch, which only the local host offers: there is no App Service
// Authentication here, so the local host itself stands in for it. The page learns that it runs
// locally from GET /.local/session (a path no function serves, so Azure never answers it), and the
// role it picks travels in a same-site cookie from which the local host makes the
// x-ms-client-principal header. A request that brings its own header (tests, scripts) keeps it.

const COOKIE = 'segment-export-local-role';
const DEFAULT_ROLE: Role = 'Admin';
const USERS: Record<Role, { name: string; userId: string }> = {
  Admin: { name: 'Local Admin', userId: 'local-admin' },
  Contributor: { name: 'Local Contributor', userId: 'local-contributor' },
};
const LOOPBACK_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i;
const MAX_BODY_BYTES = 1024;

/**
 * Answers GET and POST /.local/session; false for every other path. Only for this machine's own
 * pages: a request that names another host (DNS rebinding) or comes from another site is refused.
 */
export async function handleLocalSession(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
  if (pathname !== LOCAL_SESSION_PATH) return false;
  if (!fromThisMachinesPage(req)) {
    req.resume();
    res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('Only a page of this local host may use its role switch');
    return true;
  }
  if (req.method === 'GET') {
    send(res, roleFromCookie(req) ?? DEFAULT_ROLE);
    return true;
  }
  if (req.method === 'POST' && /^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    const parsed = localSessionBodySchema.safeParse(parseJson(await readBody(req)));
    if (parsed.success) {
      send(res, parsed.data.role);
      return true;
    }
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('Send { "role": "Admin" | "Contributor" }');
    return true;
  }
  req.resume();
  res.writeHead(405, { allow: 'GET, POST' }).end();
  return true;
}

/** The principal header for a request of the role switch's page, or undefined. */
export function localPrincipalHeader(req: IncomingMessage): string | undefined {
  if (req.headers['x-ms-client-principal'] !== undefined || !fromThisMachinesPage(req)) return undefined;
  const role = roleFromCookie(req);
  if (!role) return undefined;
  const user = USERS[role];
  const claims = [
    { typ: 'name', val: user.name },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: user.userId },
    { typ: 'roles', val: role },
  ];
  return Buffer.from(JSON.stringify({ auth_typ: 'local', name_typ: 'name', role_typ: 'roles', claims })).toString('base64');
}

function fromThisMachinesPage(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return LOOPBACK_HOST.test(req.headers.host ?? '') && (site === undefined || site === 'same-origin' || site === 'none');
}

function roleFromCookie(req: IncomingMessage): Role | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, value] = part.trim().split('=');
    if (name === COOKIE) {
      const role = roleSchema.safeParse(value);
      if (role.success) return role.data;
    }
  }
  return undefined;
}

function send(res: ServerResponse, role: Role): void {
  const session: LocalSession = { local: true, role };
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'set-cookie': `${COOKIE}=${role}; Path=/; SameSite=Strict; HttpOnly`,
  });
  res.end(JSON.stringify(session));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  // Read to the end (the answer needs the socket), keeping no more than the limit.
  for await (const chunk of req) if (text.length <= MAX_BODY_BYTES) text += (chunk as Buffer).toString('utf8');
  return text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
