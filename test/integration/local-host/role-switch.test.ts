import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { me } from '../../../functions/me';
import { web } from '../../../functions/web';
import { createLogger } from '../../../src/log';
import { parseHostJson } from '../../../dev/local/host-json';
import { startLocalHost, type RunningHost } from '../../../dev/local/host';
import { createTestContext } from '../../support/context';
import { principalHeader } from '../../support/http';

const hostSettings = { ...parseHostJson({ version: '2.0' }), routePrefix: '' };
let host: RunningHost | undefined;
afterEach(async () => {
  await host?.stop();
  host = undefined;
});

async function start(roleSwitch: boolean): Promise<string> {
  const context = await createTestContext();
  host = await startLocalHost({
    definitions: [me, web],
    hostSettings,
    env: context.env,
    storage: context.storage,
    log: createLogger(() => undefined),
    port: 0,
    roleSwitch,
    enable: { timers: false, queues: false },
  });
  return host.url;
}

/** fetch() will not send another Host header; node:http will. */
function statusWithHost(url: string, host: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { ...headers, host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}

const cookieOf = (response: Response) => response.headers.get('set-cookie')?.split(';')[0] ?? '';

describe("local host: the web app's role switch", () => {
  it('tells the page it runs locally and signs it in as an Admin until it picks another role', async () => {
    const url = await start(true);
    const session = await fetch(`${url}/.local/session`);
    expect(await session.json()).toEqual({ local: true, role: 'Admin' });
    expect(session.headers.get('set-cookie')).toMatch(/SameSite=Strict/);
    const cookie = cookieOf(session);

    expect(await (await fetch(`${url}/api/me`, { headers: { cookie } })).json()).toEqual({ userId: 'local-admin', name: 'Local Admin', roles: ['Admin'] });

    const switched = await fetch(`${url}/.local/session`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'Contributor' }),
    });
    expect(await switched.json()).toEqual({ local: true, role: 'Contributor' });
    const me = await fetch(`${url}/api/me`, { headers: { cookie: cookieOf(switched) } });
    expect(await me.json()).toEqual({ userId: 'local-contributor', name: 'Local Contributor', roles: ['Contributor'] });
  });

  it('leaves a request without the cookie unauthenticated, and a principal header the caller sent as it is', async () => {
    const url = await start(true);
    expect((await fetch(`${url}/api/me`)).status).toBe(401);
    const cookie = cookieOf(await fetch(`${url}/.local/session`));
    const header = principalHeader({ name: 'carl@example.com', roles: ['Contributor'], userId: 'oid-carl' });
    const response = await fetch(`${url}/api/me`, { headers: { cookie, 'x-ms-client-principal': header } });
    expect(await response.json()).toEqual({ userId: 'oid-carl', name: 'carl@example.com', roles: ['Contributor'] });
  });

  it('grants nothing to another site or another host name (DNS rebinding)', async () => {
    const url = await start(true);
    const cookie = cookieOf(await fetch(`${url}/.local/session`));
    expect((await fetch(`${url}/api/me`, { headers: { cookie, 'sec-fetch-site': 'cross-site' } })).status).toBe(401);
    expect(await statusWithHost(`${url}/.local/session`, 'attacker.example:80', {})).toBe(403);
    expect(await statusWithHost(`${url}/api/me`, 'attacker.example:80', { cookie })).toBe(401);
    expect(await statusWithHost(`${url}/api/me`, 'localhost', { cookie })).toBe(200);
    const post = await fetch(`${url}/.local/session`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"role":"Admin"}' });
    expect(post.status).toBe(405);
  });

  it('is not there unless the local host offers it: the path is no function, so Azure never serves it', async () => {
    const url = await start(false);
    const session = await fetch(`${url}/.local/session`);
    expect(session.status).toBe(404);
    expect(session.headers.get('set-cookie')).toBeNull();
    expect((await fetch(`${url}/api/me`, { headers: { cookie: 'segment-export-local-role=Admin' } })).status).toBe(401);
  });
});
