// Continuation tokens as the API gives them out: opaque and authenticated. A token is the store's
// own cursor (a Table storage continuation token, a reject blob offset) bound to what was listed
// (`runs` of an export, `rejects` of a run, `audit` entries of one filter) and sealed with an HMAC; the API hands the store only
// cursors it sealed itself, so a forged, altered or borrowed token is a 400 and never reaches Table
// storage as a garbage token or a blob read at an offset in the middle of a line.
//
// The key is a secret in the app's secret store (Key Vault in Azure), created on first use and
// kept in memory per process. Two instances that create it at the same moment may briefly hold
// different versions: a token that does not verify makes the process read the latest key again
// (at most every 30 s), so they converge and a page or two of listing starts over at worst.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import { Errors } from '../errors';

export const CONTINUATION_KEY_SECRET = 'continuation-token-key';
const TOKEN_VERSION = 'c1';
const KEY_REFRESH_INTERVAL_IN_MS = 30_000;

export type ContinuationScope = 'runs' | 'rejects' | 'audit';

const payloadSchema = z.object({ s: z.enum(['runs', 'rejects', 'audit']), id: z.string(), c: z.string() }).strict();

interface KeyState {
  key: Promise<Buffer>;
  readAtMs: number;
}

const keys = new WeakMap<AppContext, KeyState>();

/** The token to give out for the store's `cursor`; undefined when there is no next page. */
export async function sealContinuation(context: AppContext, scope: ContinuationScope, resourceId: string, cursor: string | undefined): Promise<string | undefined> {
  if (cursor === undefined) return undefined;
  const payload = Buffer.from(JSON.stringify({ s: scope, id: resourceId, c: cursor })).toString('base64url');
  return `${TOKEN_VERSION}.${payload}.${mac(await currentKey(context), payload)}`;
}

/** The store's cursor of a token this API gave out for the same listing; a 400 on `continuationToken` otherwise. */
export async function openContinuation(context: AppContext, scope: ContinuationScope, resourceId: string, token: string | undefined): Promise<string | undefined> {
  if (token === undefined) return undefined;
  const [version, payload, signature, ...rest] = token.split('.');
  if (version !== TOKEN_VERSION || !payload || !signature || rest.length > 0) throw invalidToken();
  if (!(await verifies(context, payload, signature))) throw invalidToken();
  const parsed = payloadSchema.safeParse(parseJson(Buffer.from(payload, 'base64url').toString('utf8')));
  if (!parsed.success || parsed.data.s !== scope || parsed.data.id !== resourceId) throw invalidToken();
  return parsed.data.c;
}

async function verifies(context: AppContext, payload: string, signature: string): Promise<boolean> {
  if (sameMac(mac(await currentKey(context), payload), signature)) return true;
  const state = keys.get(context);
  if (state && performance.now() - state.readAtMs < KEY_REFRESH_INTERVAL_IN_MS) return false;
  keys.delete(context);
  return sameMac(mac(await currentKey(context), payload), signature);
}

function currentKey(context: AppContext): Promise<Buffer> {
  const known = keys.get(context);
  if (known) return known.key;
  const state: KeyState = { key: readOrCreateKey(context), readAtMs: performance.now() };
  keys.set(context, state);
  state.key.catch(() => keys.delete(context));
  return state.key;
}

async function readOrCreateKey(context: AppContext): Promise<Buffer> {
  const existing = await context.secrets.getSecret(CONTINUATION_KEY_SECRET);
  if (existing) return Buffer.from(existing, 'base64url');
  await context.secrets.setSecret(CONTINUATION_KEY_SECRET, randomBytes(32).toString('base64url'));
  // Another instance may have created one at the same moment: the latest wins for everyone.
  const latest = await context.secrets.getSecret(CONTINUATION_KEY_SECRET);
  if (!latest) throw new Error('The continuation-token key was stored but cannot be read back');
  return Buffer.from(latest, 'base64url');
}

function mac(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(`${TOKEN_VERSION}.${payload}`).digest('base64url');
}

function sameMac(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function invalidToken(): Error {
  return Errors.invalidContinuationToken({ details: [{ path: 'continuationToken', message: 'not valid' }] });
}
