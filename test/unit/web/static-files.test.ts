import { HttpRequest, type HttpResponseInit } from '@azure/functions';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebHandler, findWebRoot, webTarget } from '../../../src/api/web';
import { web } from '../../../functions/web';
import { invokeHttp } from '../../support/http';

const bodyText = (response: HttpResponseInit) => (typeof response.body === 'string' ? response.body : Buffer.from(response.body as Uint8Array).toString('utf8'));

describe('which file a path of the web app names', () => {
  it.each([
    ['', { kind: 'page' }],
    ['/', { kind: 'page' }],
    ['index.html', { kind: 'page' }],
    ['exports/e1', { kind: 'page' }],
    ['runs/r1/', { kind: 'page' }],
    ['assets/index-3f9a1c.js', { kind: 'file', file: 'assets/index-3f9a1c.js', immutable: true }],
    ['favicon.svg', { kind: 'file', file: 'favicon.svg', immutable: false }],
    ['api', { kind: 'api' }],
    ['API/nothing-here', { kind: 'api' }],
    ['../package.json', { kind: 'refused' }],
    ['assets/../../host.json', { kind: 'refused' }],
    ['assets//x.js', { kind: 'refused' }],
    ['.env', { kind: 'refused' }],
    ['.local/session', { kind: 'refused' }],
    ['assets/..%5c..%5chost.json'.replace(/%5c/g, '\\'), { kind: 'refused' }],
    ['C:/Windows/win.ini', { kind: 'refused' }],
    ['a\0.js', { kind: 'refused' }],
  ])('%j is %j', (path, expected) => {
    expect(webTarget(path)).toEqual(expected);
  });
});

describe('the web function', () => {
  let root: string;
  const handler = () => createWebHandler({ root: () => root });
  const get = (path: string, headers: Record<string, string> = {}) =>
    handler()(new HttpRequest({ method: 'GET', url: `http://localhost:7071/${path}`, params: { path }, headers }));

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'segment-export-web-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>segment-export</title>');
    writeFileSync(join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(root, 'assets', 'index-abc123.css'), 'body{}');
    writeFileSync(join(root, 'favicon.svg'), '<svg/>');
    writeFileSync(join(root, '..', 'outside.txt'), 'secret');
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(join(root, '..', 'outside.txt'), { force: true });
  });

  it('serves the page for / and for every client route, never cached, with a strict content security policy', async () => {
    for (const path of ['', 'exports/e1', 'runs/r-1']) {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(response.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      expect(String((response.headers as Record<string, string>)['content-security-policy'])).toContain("script-src 'self'");
      expect(bodyText(response)).toContain('<title>segment-export</title>');
    }
  });

  it('serves hashed assets with their content type, cached for a year', async () => {
    const script = await get('assets/index-abc123.js');
    expect(script.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=31536000, immutable' });
    const style = await get('assets/index-abc123.css');
    expect(style.headers).toMatchObject({ 'content-type': 'text/css; charset=utf-8' });
    const icon = await get('favicon.svg');
    expect(icon.headers).toMatchObject({ 'content-type': 'image/svg+xml', 'cache-control': 'no-cache' });
  });

  it('answers 304 when the browser already has the file', async () => {
    const first = await get('assets/index-abc123.js');
    const etag = (first.headers as Record<string, string>).etag!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await get('assets/index-abc123.js', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
  });

  it('answers 404 for a missing file and for a path that leaves the folder', async () => {
    expect((await get('assets/missing-000000.js')).status).toBe(404);
    expect((await get('../outside.txt')).status).toBe(404);
    expect((await get('assets/%2e%2e/%2e%2e/outside.txt')).status).toBe(404);
  });

  it('says how to build the page when it is not built', async () => {
    const unbuilt = createWebHandler({ root: () => join(root, 'nothing-here') });
    const response = await unbuilt(new HttpRequest({ method: 'GET', url: 'http://localhost:7071/', params: { path: '' } }));
    expect(response.status).toBe(503);
    expect(bodyText(response)).toContain('npm run build');
  });

  it("answers an unknown /api route with the API's JSON 404, not the page", async () => {
    const response = await invokeHttp(web, { params: { path: 'api/no-such-route' }, path: 'no-such-route' });
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: { code: 'not_found', message: "API route 'GET /api/no-such-route' does not exist" } });
  });

  it('finds dist/web beside the host.json above the function files', () => {
    expect(findWebRoot(join(__dirname, '..', '..', '..', 'functions'))).toBe(join(__dirname, '..', '..', '..', 'dist', 'web'));
    expect(findWebRoot(join(__dirname, '..', '..', '..', 'dist', 'functions'))).toBe(join(__dirname, '..', '..', '..', 'dist', 'web'));
  });
});
