import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { me } from '../../functions/me';
import { WEB_ANONYMOUS_PATHS } from '../../src/api/web';
import { web } from '../../functions/web';
import type { RunResource } from '../../src/domain/run';
import { createLogger } from '../../src/log';
import { parseHostJson } from '../../dev/local/host-json';
import { startLocalHost, type RunningHost } from '../../dev/local/host';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';
import { principalHeader } from '../support/http';
import { buildWebApp, describeInBrowser, expectAccessible, launchChromium, recordProgress, screenshot, watchConsole } from './browser';

/**
 * The admin web app in a real browser against the whole app (local host, emulators, Azurite), as
 * a person uses it: one story, in order, sharing the app and the browser.
 */
let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  await buildWebApp();
  [app, browser] = await Promise.all([startTestApp({ emulators: { rateScale: 0.5 } }), launchChromium()]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

interface Person {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

async function person(options: { headers?: Record<string, string>; baseURL?: string } = {}): Promise<Person> {
  const context = await browser.newContext({
    baseURL: options.baseURL ?? app.url,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    extraHTTPHeaders: options.headers,
  });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  return { context, page, errors: watchConsole(page) };
}

/** Opens a page of the app by its route and waits for its heading. */
async function open(page: Page, route: string, heading: string | RegExp): Promise<void> {
  // The same address again would not load the page anew: leave it first.
  if (new URL(page.url()).hash === `#/${route}`) await page.goto('about:blank');
  await page.goto(`/#/${route}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

const members = Array.from({ length: 1200 }, (_, index) => ({
  id: `c${index}`,
  email: index % 100 === 7 ? `not-an-email-${index}` : `person${index}@example.com`,
  firstName: `First${index}`,
  lastName: 'Lee',
  city: index % 2 === 0 ? 'London' : 'Lisbon',
}));
const INVALID = members.filter((member) => !member.email.includes('@')).length;

describeInBrowser('the admin web app, as an Admin', () => {
  let admin: Person;
  let exportUrl: string;
  let runId: string;

  beforeAll(async () => {
    admin = await person();
  });
  afterAll(async () => {
    expect(admin.errors, 'errors the page logged').toEqual([]);
    await admin.context.close();
  });

  it('shows the empty states before anything exists', async () => {
    const { page } = admin;
    await open(page, '', 'Overview');
    await expect.poll(() => page.getByText('Nothing to show yet').isVisible()).toBe(true);
    await expect.poll(() => page.locator('.who').innerText()).toContain('Local Admin');
    await screenshot(page, '01-overview-empty');
    await expectAccessible(page, 'the empty overview');
    await open(page, 'exports', 'Exports');
    await page.getByText('No exports yet').waitFor();
    await screenshot(page, '02-exports-empty');
    await expectAccessible(page, 'the empty exports page');
  });

  it('creates a connection: Connect waits for the terms, and a wrong key gets the provider’s refusal in words', async () => {
    const { page } = admin;
    await open(page, 'connections', 'Connections');
    await page.getByText('No connections yet').waitFor();
    await page.getByLabel('Provider').selectOption('iterable');
    await page.getByLabel('Display name').fill('Iterable (shared)');
    await page.getByLabel('API key').fill('not-the-right-key');
    await page.getByLabel('Contributors may create and run exports on this connection').check();
    const connect = page.getByRole('button', { name: 'Connect' });
    expect(await connect.isDisabled()).toBe(true);
    await screenshot(page, '03-connections-terms-unticked');
    await expectAccessible(page, 'the connections page');

    await page.getByLabel('I accept these terms for this connection').check();
    expect(await connect.isEnabled()).toBe(true);
    await connect.click();
    const refusal = page.getByRole('alert').filter({ hasText: 'Iterable refused this API key' });
    await refusal.waitFor();
    expect(await refusal.innerText()).toContain('nothing was saved');
    await screenshot(page, '04-connections-key-refused');

    await page.getByLabel('API key').fill(app.emulators.iterable.apiKeys[0]!);
    await connect.click();
    await page.getByRole('status').filter({ hasText: 'Iterable accepted the API key' }).waitFor();
    expect(await page.getByLabel('API key').inputValue()).toBe('');
    await page.getByRole('row', { name: /Iterable \(shared\)/ }).waitFor();

    // A second one, for Admins only: a Contributor must never see it.
    await page.getByLabel('Provider').selectOption('brevo');
    await page.getByLabel('Display name').fill('Brevo (admins only)');
    await page.getByLabel('API key').fill(app.emulators.brevo.apiKeys[0]!);
    await page.getByLabel('I accept these terms for this connection').check();
    await connect.click();
    await page.getByRole('row', { name: /Brevo \(admins only\)/ }).waitFor();
    expect(await page.getByRole('row', { name: /Brevo \(admins only\)/ }).innerText()).toContain('Admins only');
    await screenshot(page, '05-connections');

    await page.getByRole('button', { name: 'Rotate key of Iterable (shared)' }).click();
    await page.getByRole('dialog').getByLabel('New API key').fill('another-wrong-key');
    await page.getByRole('dialog').getByRole('button', { name: 'Check and save the key' }).click();
    await page.getByRole('dialog').getByText('Iterable refused this API key').waitFor();
    await screenshot(page, '06-connections-rotate-refused');
    await expectAccessible(page, 'the rotate-key dialog');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
  });

  it('uploads a segment with a byte progress bar', async () => {
    const { page } = admin;
    await open(page, 'segments', 'Segments');
    await page.getByText('No segments yet').waitFor();
    await expectAccessible(page, 'the empty segments page');
    await page.getByLabel('Segment ID').fill('vip');
    await page.getByLabel('Name', { exact: true }).fill('VIP customers');
    const csv = segmentCsv(members);
    await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'vip.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    const progress = await recordProgress(page);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Uploaded “VIP customers”: 1,200 members' }).waitFor();
    expect((await progress()).at(-1), 'the upload bar ends full').toBe(100);
    const row = page.getByRole('row', { name: /VIP customers/ });
    expect(await row.innerText()).toMatch(/1,200[\s\S]*CustomerId[\s\S]*Email[\s\S]*FirstName/);
    await screenshot(page, '07-segments');
    await expectAccessible(page, 'the segments page');
  });

  it('shows the line and column of a refused upload', async () => {
    const { page } = admin;
    await page.getByLabel('Upload to').selectOption('vip');
    const broken = 'CustomerId,Email,FirstName\nc1,one@example.com,Ann\nc2,tw"o@example.com,Bob\n';
    await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'broken.csv', mimeType: 'text/csv', buffer: Buffer.from(broken) });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'The upload was refused at line 3, column 6.' });
    await refused.waitFor();
    expect(await refused.innerText()).toContain('a quote inside an unquoted field');
    await screenshot(page, '08-segments-upload-refused');
    await expectAccessible(page, 'a refused upload');
    // The segment kept its members.
    expect(await page.getByRole('row', { name: /VIP customers/ }).innerText()).toContain('1,200');
  });

  it('creates an export by picking fields, and a Brevo list id is checked on save', async () => {
    const { page } = admin;
    await open(page, 'exports/new', 'New export');
    await expectAccessible(page, 'the new export form');
    await page.getByLabel('Name', { exact: true }).fill('VIP to Brevo');
    await page.getByLabel('Connection').selectOption({ label: 'Brevo (admins only) (Brevo)' });
    await page.getByLabel('VIP customers').check();
    await page.getByRole('combobox', { name: 'Email', exact: true }).selectOption('Email');
    await page.getByLabel('Brevo list ID').fill('4242');
    await page.getByRole('button', { name: 'Save export' }).click();
    await page.getByText('Brevo has no list 4242 for this connection').waitFor();
    expect(await page.getByLabel('Brevo list ID').getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, '09-export-brevo-list-refused');

    await open(page, 'exports/new', 'New export');
    await page.getByLabel('Name', { exact: true }).fill('VIP to Iterable');
    await page.getByLabel('Connection').selectOption({ label: 'Iterable (shared) (Iterable)' });
    expect(await page.getByRole('combobox', { name: 'Email', exact: true }).isDisabled(), 'no segment yet: no field to pick').toBe(true);
    await page.getByLabel('VIP customers').check();
    expect(await page.getByRole('combobox', { name: 'Email', exact: true }).locator('option').allInnerTexts()).toEqual([
      'Choose a field',
      'CustomerId',
      'Email',
      'FirstName',
      'LastName',
      'City',
    ]);
    await page.getByRole('combobox', { name: 'Email', exact: true }).selectOption('Email');
    await page.getByLabel('First name').selectOption('FirstName');
    await page.getByLabel('Last name').selectOption('');
    await page.getByLabel('City').selectOption('City');
    await screenshot(page, '10-export-new');
    await page.getByRole('button', { name: 'Save export' }).click();
    await page.getByRole('heading', { level: 1, name: 'VIP to Iterable' }).waitFor();
    exportUrl = page.url();
    const saved = (await app.api<{ items: { name: string; mapping: unknown }[] }>('GET', 'exports')).body.items;
    expect(saved.find((item) => item.name === 'VIP to Iterable')?.mapping).toEqual({ email: 'Email', firstName: 'FirstName', city: 'City' });
    await expectAccessible(page, 'the export page');
  });

  it('dry-runs the export and shows the adds, updates and removes it expects', async () => {
    const { page } = admin;
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByRole('heading', { level: 1, name: 'Run of VIP to Iterable' }).waitFor();
    const expected = page.getByRole('status').filter({ hasText: 'Dry run: nothing was sent.' });
    await expected.waitFor({ timeout: 60_000 });
    expect(await expected.innerText()).toContain(`A run now would add ${(members.length - INVALID).toLocaleString('en-US')}, update 0 and remove 0`);
    await screenshot(page, '11-run-dry');
  });

  it('starts a run and watches the progress bar reach 100%', async () => {
    const { page } = admin;
    await page.goto(exportUrl);
    await page.getByRole('button', { name: 'Run now' }).waitFor();
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('heading', { level: 1, name: 'Run of VIP to Iterable' }).waitFor();
    runId = decodeURIComponent(new URL(page.url()).hash.split('/').at(-1)!);
    const progress = await recordProgress(page);
    await screenshot(page, '12-run-in-progress');
    await expectAccessible(page, 'a run in progress');
    await page.locator('.run-summary').getByText('Succeeded').waitFor({ timeout: 90_000 });
    const seen = await progress();
    expect(seen.at(-1)).toBe(100);
    expect(await page.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    const run = (await app.api<RunResource>('GET', `runs/${runId}`)).body;
    expect(run).toMatchObject({ status: 'succeeded', totals: { sent: members.length - INVALID, invalid: INVALID } });
    await page.locator('.total-sent dd').getByText((members.length - INVALID).toLocaleString('en-US')).waitFor();
    await screenshot(page, '13-run-done');
  });

  it('pages through the rejects and downloads them as CSV', async () => {
    const { page } = admin;
    const table = page.getByRole('table', { name: /Rejected records, page 1/ });
    await table.waitFor();
    expect(await table.locator('tbody tr').count()).toBe(INVALID);
    expect(await table.innerText()).toContain('not-an-email-7');
    await expectAccessible(page, 'the finished run with its rejects');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download all as CSV' }).click()]);
    expect(download.suggestedFilename()).toBe(`rejects-${runId}.csv`);
    const lines = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe('email,segmentId,code,reason');
    expect(lines).toHaveLength(INVALID + 1);
    expect(lines.filter((line) => line.startsWith('not-an-email-') && line.includes(',vip,invalid_email,'))).toHaveLength(INVALID);
  });

  it('shows every export’s last run and a chart of the last 30 days on the overview', async () => {
    const { page } = admin;
    await open(page, '', 'Overview');
    const lastRuns = page.getByRole('table', { name: 'The last run of every export' });
    await lastRuns.waitFor();
    expect(await lastRuns.getByRole('row', { name: /VIP to Iterable/ }).innerText()).toContain('Succeeded');
    const chart = page.getByRole('img', { name: /Bar chart of 1 run:/ });
    await chart.waitFor();
    expect(await chart.boundingBox()).toMatchObject({ height: 300 });
    await page.getByText('The numbers behind the chart').click();
    expect(await page.getByRole('table', { name: 'Sent and rejected per run' }).innerText()).toContain((members.length - INVALID).toLocaleString('en-US'));
    await screenshot(page, '14-overview');
    await expectAccessible(page, 'the overview');
    await open(page, 'exports', 'Exports');
    expect(await page.getByRole('row', { name: /VIP to Iterable/ }).innerText()).toContain('Succeeded');
    await screenshot(page, '15-exports');
    await expectAccessible(page, 'the exports page');
    await open(page, 'runs', 'Runs');
    await page.getByRole('table', { name: 'Runs, newest first' }).waitFor();
    await screenshot(page, '16-runs');
    await expectAccessible(page, 'the runs page');
  });

  it('shows its loading and error states, and recovers on "Try again"', async () => {
    const { page } = admin;
    await open(page, 'runs/no-such-run', 'Run');
    await page.getByRole('alert').filter({ hasText: "Run 'no-such-run' does not exist" }).waitFor();
    await screenshot(page, '17-run-not-found');
    await expectAccessible(page, 'an error state');

    // The API answers slowly, then not at all, then again.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/segments', async (route) => {
      await held;
      await route.abort('connectionreset');
    });
    await open(page, 'segments', 'Segments');
    await page.getByRole('status').filter({ hasText: 'Loading segments…' }).waitFor();
    await screenshot(page, '18-segments-loading');
    release();
    await page.getByRole('alert').filter({ hasText: 'Could not load the segments. The app could not be reached' }).waitFor();
    await screenshot(page, '19-segments-unreachable');
    await page.unroute('**/api/segments');
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('row', { name: /VIP customers/ }).waitFor();
  });

  it('is usable with the keyboard alone', async () => {
    const { page } = admin;
    await open(page, '', 'Overview');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // Tab from the top of the page to the navigation and open Segments with the keyboard.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    for (let presses = 0; presses < 10; presses += 1) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Segments') break;
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Segments' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
  });

  it('sets the removal share on the export, stops a run past it, and runs it once the removals are confirmed', async () => {
    const { page } = admin;
    await page.goto(exportUrl);
    const share = page.getByRole('textbox', { name: /Stop a run that would remove more than/ });
    expect(await share.inputValue()).toBe('20');
    await share.fill('101');
    expect(await page.getByRole('button', { name: 'Save changes' }).isDisabled()).toBe(true);
    await share.fill('10');
    const exportId = decodeURIComponent(new URL(exportUrl).hash.split('/').at(-1)!);
    // Saving reloads the export (a new `updatedAt` remounts the form): the notice outlives that.
    const reloaded = ['connections', 'segments', `exports/${encodeURIComponent(exportId)}`].map((path) =>
      page.waitForResponse((response) => response.request().method() === 'GET' && new URL(response.url()).pathname === `/api/${path}`),
    );
    await page.getByRole('button', { name: 'Save changes' }).click();
    await Promise.all(reloaded);
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: 1_000 });
    expect((await app.api<{ options: unknown }>('GET', `exports/${exportId}`)).body.options).toEqual({ safety: { maxRemoveShare: 0.1, maxInvalidShare: 0.5 } });

    // The segment comes back with a sixth of its members: most of the list would go.
    const kept = members.slice(0, 200);
    await app.uploadSegment('vip', 'VIP customers', segmentCsv(kept));
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('heading', { level: 1, name: 'Run of VIP to Iterable' }).waitFor();
    const stop = page.getByRole('alert').filter({ hasText: 'Too many removals' });
    await stop.waitFor({ timeout: 60_000 });
    const held = members.length - INVALID;
    const leaving = held - kept.filter((member) => member.email.includes('@')).length;
    expect(await stop.innerText()).toContain(`it would remove ${leaving.toLocaleString('en-US')} of the ${held.toLocaleString('en-US')} members`);
    await screenshot(page, '23-run-stopped-by-safety');
    await expectAccessible(page, 'a run stopped by a safety share');
    const list = app.emulators.iterable.listByName('VIP customers')[0]!;
    expect(list.members.size).toBe(held);

    await page.getByRole('button', { name: 'Confirm removals and run' }).click();
    await page.locator('.run-summary').getByText('Succeeded').waitFor({ timeout: 90_000 });
    expect(await page.locator('.total-removes dd').innerText()).toBe(leaving.toLocaleString('en-US'));
    expect(list.members.size).toBe(held - leaving);
  });

  it('refuses an upload without a column the export maps, and uploads it only when asked to', async () => {
    const { page } = admin;
    await open(page, 'segments', 'Segments');
    await page.getByLabel('Upload to').selectOption('vip');
    const withoutCity = 'CustomerId,Email,FirstName\nc1,one@example.com,Ann\n';
    await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'no-city.csv', mimeType: 'text/csv', buffer: Buffer.from(withoutCity) });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'The upload was refused.' });
    await refused.waitFor();
    expect(await refused.innerText()).toContain('City');
    await screenshot(page, '24-segments-mapping-missing');
    await expectAccessible(page, 'an upload refused for a mapped field');
    const before = (await app.api<{ version: string; fields: string[] }>('GET', 'segments/vip')).body;
    expect(before.fields).toContain('City');

    await page.getByRole('button', { name: 'Upload anyway' }).click();
    await page.getByRole('status').filter({ hasText: 'Uploaded “VIP customers”: 1 member,' }).waitFor();
    const after = (await app.api<{ version: string; fields: string[] }>('GET', 'segments/vip')).body;
    expect(after.version).not.toBe(before.version);
    expect(after.fields).not.toContain('City');
  });
});

describeInBrowser('the admin web app, as a Contributor', () => {
  it('switches the local role, and then shows neither the Connections page nor admins-only connections', async () => {
    const contributor = await person();
    const { page } = contributor;
    await open(page, '', 'Overview');
    await page.getByLabel('Local role').selectOption('Contributor');
    await expect.poll(() => page.locator('.who').innerText()).toContain('Local Contributor · Contributor');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allInnerTexts()).toEqual(['Overview', 'Segments', 'Exports', 'Runs']);
    await screenshot(page, '20-contributor-overview');
    await expectAccessible(page, "a Contributor's overview");

    await open(page, 'connections', 'Connections');
    await page.getByText('Only Admins manage connections').waitFor();
    expect(await page.getByRole('table').count()).toBe(0);
    await screenshot(page, '21-contributor-connections');
    await expectAccessible(page, "a Contributor's connections page");

    await open(page, 'exports/new', 'New export');
    await page.getByLabel('Connection').waitFor();
    const options = await page.getByLabel('Connection').locator('option').allInnerTexts();
    expect(options).toEqual(['Iterable (shared) (Iterable)']);
    await screenshot(page, '22-contributor-new-export');
    expect(contributor.errors).toEqual([]);
    await contributor.context.close();
  });
});

describeInBrowser('signing in where App Service Authentication is in front (no role switch)', () => {
  let host: RunningHost;
  beforeAll(async () => {
    host = await startLocalHost({
      definitions: [me, web],
      hostSettings: { ...parseHostJson({ version: '2.0' }), routePrefix: '' },
      env: {},
      storage: app.context.storage,
      log: createLogger(() => undefined),
      port: 0,
      enable: { timers: false, queues: false },
    });
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('sends a person who is not signed in to Entra ID, and back to the page they asked for', async () => {
    const visitor = await person({ baseURL: host.url });
    const { page } = visitor;
    const asked: string[] = [];
    page.on('request', (request) => asked.push(new URL(request.url()).pathname));
    await page.goto('/#/segments');
    await page.waitForURL((url) => url.pathname === '/.auth/login/aad' && url.searchParams.get('post_login_redirect_uri') === '/');
    // Before sign-in the page loads nothing but what App Service Authentication lets through, and
    // asks two questions that it answers with 401: who am I, and am I local.
    const anonymous = (path: string) =>
      WEB_ANONYMOUS_PATHS.some((allowed) => (allowed.endsWith('/*') ? path.startsWith(allowed.slice(0, -1)) : path === allowed));
    expect(asked.filter((path) => !anonymous(path))).toEqual(['/.local/session', '/api/me', '/.auth/login/aad']);

    // Back again at once: the sign-in did not take, so the page offers the link instead of looping.
    await page.goto('/');
    const link = page.getByRole('link', { name: 'Sign in with Microsoft Entra ID' });
    await link.waitFor();
    expect(await link.getAttribute('href')).toBe('/.auth/login/aad?post_login_redirect_uri=%2F');
    await screenshot(page, '30-sign-in');
    await expectAccessible(page, 'the sign-in page');

    // Signed in (App Service Authentication now sends the principal): the page asked for opens.
    await page.setExtraHTTPHeaders({ 'x-ms-client-principal': principalHeader({ name: 'carl@example.com', roles: ['Contributor'] }) });
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByRole('heading', { level: 1, name: 'Segments' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/segments');
    await visitor.context.close();
  });

  it('finds what it must: the accessibility scan fails a page with an unlabelled field', async () => {
    const { page, context } = await person({ baseURL: host.url });
    await page.setContent('<!doctype html><html lang="en"><title>t</title><main><h1>t</h1><input type="text"></main></html>');
    await expect(expectAccessible(page, 'a page with an unlabelled field')).rejects.toThrow(/label/);
    await context.close();
  });

  it('shows who is signed in and their role, a way to sign out, and no role switch', async () => {
    const header = principalHeader({ name: 'ada@example.com', roles: ['Admin'] });
    const signedIn = await person({ baseURL: host.url, headers: { 'x-ms-client-principal': header } });
    const { page } = signedIn;
    await open(page, '', 'Overview');
    expect(await page.locator('.who').innerText()).toContain('ada@example.com · Admin');
    expect(await page.getByRole('link', { name: 'Sign out' }).getAttribute('href')).toBe('/.auth/logout?post_logout_redirect_uri=%2F');
    expect(await page.getByLabel('Local role').count()).toBe(0);
    // This host serves no exports route: the overview shows its error state.
    await page.getByRole('alert').filter({ hasText: 'Could not load the overview' }).waitFor();
    await screenshot(page, '31-signed-in-azure');
    await expectAccessible(page, 'the page signed in through App Service Authentication');
    await signedIn.context.close();
  });
});
