import type { Role } from '../domain/policy';
import { LOCAL_SESSION_PATH, localSessionSchema, type LocalSession, type Me } from '../domain/session';
import { api, ApiError } from './api';

// Who is using the page. In Azure, App Service Authentication signs people in: the page asks the
// API who it is (GET /api/me) and, when nobody is signed in, sends the person to Entra ID and back.
// Locally there is no sign-in: the local host alone answers /.local/session, and only then does
// the page offer its role switch.

export type Session = { me: Me; local: LocalSession | undefined };

export type SessionState =
  | { kind: 'ready'; session: Session }
  | { kind: 'signing-in' }
  | { kind: 'sign-in-failed' }
  | { kind: 'error'; error: Error };

const RETURN_KEY = 'segment-export:return-to';
const ATTEMPT_KEY = 'segment-export:sign-in-at';
/** A second trip to the sign-in page this soon means it did not work: show the link instead. */
const RETRY_AFTER_MS = 60_000;

export const SIGN_IN_URL = `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent('/')}`;
export const SIGN_OUT_URL = `/.auth/logout?post_logout_redirect_uri=${encodeURIComponent('/')}`;

export async function fetchLocalSession(): Promise<LocalSession | undefined> {
  try {
    const response = await fetch(LOCAL_SESSION_PATH, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    if (!response.ok) return undefined;
    const parsed = localSessionSchema.safeParse(await response.json());
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function switchLocalRole(role: Role): Promise<void> {
  const response = await fetch(LOCAL_SESSION_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role }),
    credentials: 'same-origin',
  });
  if (!response.ok) throw new Error(`The local host did not switch the role (${response.status})`);
}

export async function loadSession(): Promise<SessionState> {
  const local = await fetchLocalSession();
  try {
    const me = await api.me();
    restoreReturnPath();
    return { kind: 'ready', session: { me, local } };
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) return { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) };
    if (local) return { kind: 'error', error: new Error('The local host did not sign this page in: reload the page to try again.') };
    return signIn() ? { kind: 'signing-in' } : { kind: 'sign-in-failed' };
  }
}

/** Sends the person to Entra ID, unless that was just tried; false when it was. */
export function signIn(): boolean {
  const last = Number(sessionStorage.getItem(ATTEMPT_KEY) ?? '0');
  if (Date.now() - last < RETRY_AFTER_MS) return false;
  sessionStorage.setItem(ATTEMPT_KEY, String(Date.now()));
  sessionStorage.setItem(RETURN_KEY, location.hash);
  location.assign(SIGN_IN_URL);
  return true;
}

/** Back from the sign-in page (which returns to `/`): open the page the person had asked for. */
function restoreReturnPath(): void {
  const hash = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  sessionStorage.removeItem(ATTEMPT_KEY);
  if (hash && hash.startsWith('#/') && location.hash !== hash) location.hash = hash;
}
