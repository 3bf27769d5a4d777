import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ExportCreated } from '../../src/domain/export';
import type { NotificationTestResult } from '../../src/domain/notification';
import type { RunResource } from '../../src/domain/run';
import { observeEndedRun } from '../../src/pipeline/run-state';
import { getRunDoc } from '../../src/pipeline/store/runs-table';
import { segmentCsv, startTestApp, type TestApp } from '../support/app';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** A receiver on loopback: `/ok/*` answers 200, `/broken` always 500; it records every request. */
let receiver: Server;
let base: string;
const received: Received[] = [];
let app: TestApp;

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      response.statusCode = request.url === '/broken' ? 500 : 200;
      response.end(request.url?.startsWith('/ok/slack') ? 'ok' : '');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  app = await startTestApp({ tuning: { notificationRetryDelaysMs: [300, 300] } });
});
afterAll(async () => {
  await app?.close();
  await new Promise((resolve) => receiver.close(resolve));
});

const at = (path: string) => received.filter((request) => request.path === path);

async function until<T>(what: string, probe: () => T | undefined, timeoutInMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The shapes Teams (an Adaptive Card in a `message`) and Slack (`text` and Block Kit `blocks`) document for incoming webhooks. */
const teamsMessage = z.object({
  type: z.literal('message'),
  attachments: z
    .array(
      z.object({
        contentType: z.literal('application/vnd.microsoft.card.adaptive'),
        contentUrl: z.null(),
        content: z.object({
          $schema: z.literal('http://adaptivecards.io/schemas/adaptive-card.json'),
          type: z.literal('AdaptiveCard'),
          version: z.string().regex(/^1\.\d$/),
          body: z.array(z.looseObject({ type: z.enum(['TextBlock', 'FactSet']) })).min(1),
        }),
      }),
    )
    .length(1),
});
const slackMessage = z.object({
  text: z.string().min(1),
  blocks: z.array(z.looseObject({ type: z.enum(['section', 'actions', 'context', 'divider', 'header']) })).max(50),
});

describe('run notifications', () => {
  it('notifies a failed run once per event with a valid signature, retries a receiver that answers 500 without delaying the run', async () => {
    const connectionId = await app.createConnection('iterable');
    await app.uploadSegment('notified', 'Notified', segmentCsv([{ id: '1', email: 'a@example.com', lastName: 'Lee' }]));
    const created = await app.api<ExportCreated>('POST', 'exports', {
      json: {
        name: 'Notified export',
        connectionId,
        segmentIds: ['notified'],
        mapping: { email: 'Email', lastName: 'LastName' },
        notifications: [
          { url: `${base}/ok/json`, events: ['run.failed', 'run.succeeded'], format: 'json' },
          { url: `${base}/broken`, events: ['run.failed'] },
          { url: `${base}/ok/teams`, events: ['run.failed'], format: 'teams' },
          { url: `${base}/ok/slack`, events: ['run.failed'], format: 'slack' },
          { url: `${base}/ok/never`, events: ['run.skipped'] },
        ],
      },
    });
    expect(created.status).toBe(201);
    const secret = created.body.notificationSecret!;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const shown = await app.api<Record<string, unknown>>('GET', `exports/${created.body.id}`);
    expect(JSON.stringify(shown.body)).not.toContain(secret);
    expect(shown.body.notificationSecret).toBeUndefined();

    // A forced upload without the mapped LastName: the run fails before it sends anything.
    await app.api('PUT', `segments/notified?name=Notified&force=true`, { body: 'CustomerId,Email\n1,a@example.com\n', contentType: 'text/csv' });
    const failed = await app.waitForRun(await app.startRun(created.body.id), { intervalInMs: 20 });
    expect(failed.status).toBe('failed');
    // The run had ended before the receivers were done with: their retries come after it.
    expect(at('/broken').length).toBeLessThan(3);

    const json = await until('the JSON notification', () => at('/ok/json')[0]);
    expect(json.headers['x-segment-export-signature']).toBe(`sha256=${createHmac('sha256', secret).update(json.body).digest('hex')}`);
    expect(json.headers['x-segment-export-event']).toBe('run.failed');
    expect(JSON.parse(json.body)).toMatchObject({
      type: 'run.failed',
      run: { runId: failed.runId, exportId: created.body.id, exportName: 'Notified export', status: 'failed', reason: expect.stringContaining('mapping_field_missing'), totals: expect.any(Object) },
      links: { run: `/api/runs/${failed.runId}`, web: `/#/runs/${failed.runId}` },
    });
    expect(teamsMessage.safeParse(JSON.parse((await until('Teams', () => at('/ok/teams')[0])).body)).success).toBe(true);
    const slack = JSON.parse((await until('Slack', () => at('/ok/slack')[0])).body) as unknown;
    expect(slackMessage.safeParse(slack).success, JSON.stringify(slack)).toBe(true);

    // The broken receiver: three attempts (the first and two retries), after the run had ended.
    await until('three attempts at the broken receiver', () => (at('/broken').length >= 3 ? true : undefined));
    expect(at('/broken')[2]!.at).toBeGreaterThan(Date.parse(failed.finishedAt!));

    // Seeing the ended run again (a redelivered message) queues nothing new.
    const doc = await getRunDoc(app.context, failed.runId);
    await observeEndedRun(app.context, doc!.value);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(at('/ok/json')).toHaveLength(1);
    expect(at('/broken')).toHaveLength(3);
    expect(at('/ok/never')).toHaveLength(0);
    const after = await app.api<RunResource>('GET', `runs/${failed.runId}`);
    const byHost = (after.body.notifications ?? []).map((notification) => [notification.event, notification.status, notification.attempts]);
    expect(byHost).toEqual([
      ['run.failed', 'delivered', 1],
      ['run.failed', 'failed', 3],
      ['run.failed', 'delivered', 1],
      ['run.failed', 'delivered', 1],
    ]);
    expect(JSON.stringify(after.body.notifications)).not.toContain('/broken');
  });

  it('sends a test notification to each receiver and says how each answered', async () => {
    const connectionId = await app.createConnection('iterable');
    await app.uploadSegment('tested', 'Tested', segmentCsv([{ id: '1', email: 'a@example.com' }]));
    const created = await app.api<ExportCreated>('POST', 'exports', {
      json: { name: 'Tested', connectionId, segmentIds: ['tested'], mapping: { email: 'Email' }, notifications: [{ url: `${base}/ok/test`, events: ['run.failed'] }, { url: `${base}/broken`, events: ['run.failed'] }] },
    });
    const before = at('/broken').length;
    const tested = await app.api<NotificationTestResult>('POST', `exports/${created.body.id}/notifications/test`);
    expect(tested.status).toBe(200);
    expect(tested.body.results).toEqual([
      { urlHost: new URL(base).host, format: 'json', delivered: true, statusCode: 200 },
      { urlHost: new URL(base).host, format: 'json', delivered: false, statusCode: 500, error: 'the receiver answered 500' },
    ]);
    const body = at('/ok/test')[0]!;
    expect(JSON.parse(body.body)).toMatchObject({ type: 'notification.test' });
    expect(body.headers['x-segment-export-signature']).toBe(`sha256=${createHmac('sha256', created.body.notificationSecret!).update(body.body).digest('hex')}`);
    expect(at('/broken').length).toBe(before + 1);
  });

  it('refuses receivers that are not https or point at internal addresses (loopback only because this is not Azure)', async () => {
    const connectionId = await app.createConnection('iterable');
    await app.uploadSegment('refused', 'Refused', segmentCsv([{ id: '1', email: 'a@example.com' }]));
    for (const url of ['http://example.com/hook', 'https://10.0.0.8/hook', 'https://169.254.169.254/latest', 'https://intranet/hook', 'ftp://example.com/x', 'https://user:pw@example.com/']) {
      const answer = await app.api<{ error: { code: string; details: { path: string }[] } }>('POST', 'exports', {
        json: { name: 'Refused', connectionId, segmentIds: ['refused'], mapping: { email: 'Email' }, notifications: [{ url, events: ['run.failed'] }] },
      });
      expect(answer.status, url).toBe(400);
      expect(answer.body.error.details).toEqual([expect.objectContaining({ path: 'notifications.0.url' })]);
    }
  });
});
