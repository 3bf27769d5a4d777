import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Errors } from '../errors';

// The admin web app: the files `npm run build` writes to dist/web, served at `/` by the catch-all
// function `web`. Every other function's route starts with `api/` and wins over the catch-all, so
// what reaches here under `/api` is an unknown API route and gets the API's JSON 404.

/**
 * Paths App Service Authentication must let through unauthenticated: the page and its assets
 * hold no data, and the page itself sends a person who is not signed in to `/.auth/login/aad`.
 * Everything else (every `/api` route) stays behind `Return401`.
 */
export const WEB_ANONYMOUS_PATHS = ['/', '/index.html', '/assets/*'] as const;

/** What a request path asks of the web app: a pure decision, read by the handler below. */
export type WebTarget =
  | { kind: 'page' }
  | { kind: 'file'; file: string; immutable: boolean }
  | { kind: 'api' }
  | { kind: 'refused' };

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Vite names every file under assets/ by its content hash: a new build never reuses a name. */
const IMMUTABLE_PREFIX = 'assets/';

export function webTarget(path: string): WebTarget {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  const segments = trimmed === '' ? [] : trimmed.split('/');
  if (segments[0]?.toLowerCase() === 'api') return { kind: 'api' };
  // Hidden names (.env, .local, .auth), parent or empty segments, and anything a file system
  // might read as a separator, a drive or a stream never name a file of the app.
  if (segments.some((segment) => segment === '' || segment.startsWith('.') || /[\\:\0]/.test(segment))) return { kind: 'refused' };
  const last = segments.at(-1);
  if (last === undefined || last === 'index.html') return { kind: 'page' };
  // A path without an extension is one of the page's own routes: the page decides what it shows.
  if (!/\.[A-Za-z0-9]+$/.test(last)) return { kind: 'page' };
  const file = segments.join('/');
  return { kind: 'file', file, immutable: file.startsWith(IMMUTABLE_PREFIX) };
}

/** The folder with the built page: dist/web next to the host.json above `from`. */
export function findWebRoot(from: string): string | undefined {
  for (let directory = resolve(from); ; directory = dirname(directory)) {
    if (existsSync(join(directory, 'host.json'))) return join(directory, 'dist', 'web');
    if (dirname(directory) === directory) return undefined;
  }
}

interface CachedFile {
  mtimeMs: number;
  body: Buffer;
  etag: string;
}

export interface WebHandlerOptions {
  /** The built page's folder; undefined when it cannot be found. */
  root: () => string | undefined;
}

/** The `web` function's handler: GET and HEAD of the page, its assets and its client routes. */
export function createWebHandler(options: WebHandlerOptions): (request: HttpRequest) => Promise<HttpResponseInit> {
  const cache = new Map<string, CachedFile>();

  async function read(absolute: string): Promise<CachedFile | undefined> {
    const info = await stat(absolute).catch(() => undefined);
    if (!info?.isFile()) return undefined;
    const cached = cache.get(absolute);
    if (cached && cached.mtimeMs === info.mtimeMs) return cached;
    const body = await readFile(absolute);
    const file = { mtimeMs: info.mtimeMs, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    cache.set(absolute, file);
    return file;
  }

  return async (request) => {
    const path = request.params.path ?? '';
    const target = webTarget(path);
    if (target.kind === 'api') throw Errors.notFound('API route', `${request.method} /${path.replace(/^\/+/, '')}`.slice(0, 200));
    if (target.kind === 'refused') return notFound();
    const root = options.root();
    const file = target.kind === 'page' ? 'index.html' : target.file;
    const absolute = root === undefined ? undefined : resolve(root, file);
    if (root === undefined || absolute === undefined || !absolute.startsWith(resolve(root) + sep)) return notFound();
    const found = await read(absolute);
    if (!found) {
      if (target.kind === 'page') {
        return text(503, 'The web app is not built here: run `npm run build`, which writes it to dist/web.');
      }
      return notFound();
    }
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[extensionOf(file)] ?? 'application/octet-stream',
      'cache-control': target.kind === 'file' && target.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag: found.etag,
      'x-content-type-options': 'nosniff',
    };
    if (target.kind === 'page') Object.assign(headers, PAGE_HEADERS);
    if (request.headers.get('if-none-match') === found.etag) return { status: 304, headers };
    return { status: 200, headers, body: found.body };
  };
}

/** The page loads its own scripts and styles only, talks to this origin only, and is never framed. */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

function extensionOf(file: string): string {
  const dot = file.lastIndexOf('.');
  return dot === -1 ? '' : file.slice(dot).toLowerCase();
}

function notFound(): HttpResponseInit {
  return text(404, 'Not found');
}

function text(status: number, body: string): HttpResponseInit {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }, body };
}
