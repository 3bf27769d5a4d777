import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { me } from '../../../functions/me';
import type { HttpDefinition } from '../../../src/app/definitions';
import { compileRoute } from '../../../dev/local/routes';
import { readHostJson } from '../../../dev/local/host-json';
import { invokeHttp } from '../../support/http';

const root = join(__dirname, '..', '..', '..');
let http: HttpDefinition[];

beforeAll(async () => {
  http = [];
  for (const file of readdirSync(join(root, 'functions')).filter((name) => name.endsWith('.ts')).sort()) {
    const module = (await import(pathToFileURL(join(root, 'functions', file)).href)) as Record<string, unknown>;
    for (const value of Object.values(module)) if ((value as { kind?: unknown } | null)?.kind === 'http') http.push(value as HttpDefinition);
  }
});

describe('routes: the API under /api, the web app at /', () => {
  it('has no host-wide route prefix, so that the web app can answer /', () => {
    expect(readHostJson(join(root, 'host.json')).routePrefix).toBe('');
  });

  it('puts every HTTP function but the web app under api/', () => {
    expect(http.length).toBeGreaterThan(20);
    const outside = http.filter(({ name, options }) => name !== 'web' && !options.route.startsWith('api/'));
    expect(outside.map(({ name, options }) => `${name}: ${options.route}`)).toEqual([]);
  });

  it('gives the web app the lowest precedence of all routes, and only GET and HEAD', () => {
    const web = http.find(({ name }) => name === 'web')!;
    expect(web.options.methods).toEqual(['GET', 'HEAD']);
    const lowest = Math.min(...http.filter(({ name }) => name !== 'web').map(({ options }) => compileRoute(options.route).precedence));
    expect(compileRoute(web.options.route).precedence).toBeLessThan(lowest);
  });
});

describe('the deployed package', () => {
  /** .funcignore's patterns the way git reads them, for the few forms the file uses. */
  function ignored(path: string): boolean {
    let result = false;
    for (const raw of readFileSync(join(root, '.funcignore'), 'utf8').split('\n').map((line) => line.trim())) {
      if (raw === '' || raw.startsWith('#')) continue;
      const negated = raw.startsWith('!');
      const pattern = (negated ? raw.slice(1) : raw).replace(/\/$/, '');
      const anchored = pattern.includes('/');
      const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`);
      const candidates = anchored ? [path] : path.split('/').map((_, index, parts) => parts.slice(index).join('/'));
      if (candidates.some((candidate) => regex.test(candidate))) result = !negated;
    }
    return result;
  }

  it('holds what the remote build needs to build the web app, and no test output', () => {
    for (const path of ['src/web/index.html', 'src/web/main.tsx', 'src/web/vite.config.mts', 'src/web/tsconfig.json', 'src/domain/session.ts', 'package.json', 'package-lock.json', 'host.json']) {
      expect(ignored(path), path).toBe(false);
    }
    expect(ignored('test-output/browser/01-overview-empty.png')).toBe(true);
    expect(ignored('test/browser/web-app.test.ts')).toBe(true);
    expect(ignored('dev/emulators/index.ts')).toBe(true);
  });

  it('builds the web app in npm run build, which the remote build runs', () => {
    const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.build).toContain('npm run build:web');
    expect(scripts['build:web']).toContain('vite build --config src/web/vite.config.mts');
  });
});

describe('GET /api/me', () => {
  it('answers who is signed in and their app roles', async () => {
    const response = await invokeHttp(me, { principal: { name: 'ada@example.com', roles: ['Admin', 'Unknown'], userId: 'oid-ada' } });
    expect(response).toMatchObject({ status: 200, body: { userId: 'oid-ada', name: 'ada@example.com', roles: ['Admin'] } });
  });

  it('answers a principal without an app role too, with no roles', async () => {
    const response = await invokeHttp(me, { principal: { name: 'eve@example.com', roles: [], userId: 'oid-eve' } });
    expect(response).toMatchObject({ status: 200, body: { roles: [] } });
  });

  it('is 401 without a principal', async () => {
    expect((await invokeHttp(me)).status).toBe(401);
  });
});
