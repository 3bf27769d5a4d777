import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { InvocationContext, type Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobCreatedEvent, deliverEvent, writeCdmFolder, type CdmEntityFixture } from '../../dev/cdm-folder';
import { sourcesTimer } from '../../functions/sources-timer';
import type { RunResource } from '../../src/domain/run';
import type { SourceResource } from '../../src/domain/source';
import { startTestApp, type TestApp } from '../support/app';

/**
 * Customer Insights writes a CDM folder into Blob Storage; Event Grid tells the app (a BlobCreated
 * event on the source-events queue); the app ingests the segments and the exports that use them
 * run by themselves. Through the local host with Azurite and the provider emulators.
 */
let app: TestApp;
let container: ContainerClient;
const FOLDER = 'CustomerInsights_0f1e2d3c/SegmentExports';

beforeAll(async () => {
  app = await startTestApp({ emulators: { rateScale: 50 }, tuning: { sources: { stabilityDelayMs: 100, recheckDelayMs: 1_000 } } });
  container = app.context.storage.blobService.getContainerClient(`ci-${randomBytes(5).toString('hex')}`);
  await container.create();
});
afterAll(async () => {
  await app?.close();
});

const people = (from: number, count: number, note = (i: number) => (i % 3 === 0 ? `a note, with a comma and "quotes"` : i % 3 === 1 ? 'two\nlines' : '')) =>
  Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return [`C${String(i).padStart(5, '0')}`, `person${i}@example.com`, `First${i}`, note(i)];
  });

const highValue = (rows: string[][]): CdmEntityFixture => ({ name: 'HighValue', attributes: ['CustomerId', 'Email', 'FirstName', 'Note'], rows, partitions: 3, bom: true, crlf: true });
const lapsed = (rows: string[][]): CdmEntityFixture => ({ name: 'Lapsed', attributes: ['CustomerId', 'Email'], rows, partitions: 2, columnHeaders: true });

async function landExport(rows: { high: string[][]; lapsed: string[][] }, options: { at: Date; notify: boolean }): Promise<void> {
  const written = await writeCdmFolder(container, { folder: FOLDER, entities: [highValue(rows.high), lapsed(rows.lapsed)], at: options.at });
  if (options.notify) await deliverEvent(queue(), await blobCreatedEvent(container, written.modelPath));
}

const queue = () => app.context.storage.queue(app.context.storage.names.queues.sourceEvents);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutInMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutInMs; ; ) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function segmentVersion(segmentId: string): Promise<string | undefined> {
  const segment = await app.api<{ version: string }>('GET', `segments/${segmentId}`);
  return segment.status === 200 ? segment.body.version : undefined;
}

/** The run of `exportId` that a source started after `after`, once it has finished. */
async function sourceRunAfter(exportId: string, after: string): Promise<RunResource> {
  return waitFor(`a source run of ${exportId}`, async () => {
    const runs = (await app.api<{ items: RunResource[] }>('GET', `exports/${exportId}/runs`)).body.items;
    const run = runs.find((item) => item.trigger === 'source' && item.createdAt > after);
    return run && ['succeeded', 'partially_succeeded', 'failed', 'cancelled', 'skipped'].includes(run.status) ? run : undefined;
  });
}

describe('segment sources end to end', () => {
  let sourceId: string;
  let iterableExport: string;
  let omnisendExport: string;

  it('creates a source (Admin only) and ingests a CDM folder delivered by a BlobCreated event', async () => {
    const body = { displayName: 'Customer Insights', kind: 'cdm-folder', location: { container: container.containerName, prefix: FOLDER } };
    expect((await app.api('POST', 'sources', { json: body, principal: { name: 'carl@example.com', roles: ['Contributor'] } })).status).toBe(403);
    const created = await app.api<SourceResource>('POST', 'sources', { json: body });
    expect(created.status).toBe(201);
    expect(created.body.runExports).toBe(true);
    sourceId = created.body.id;

    await landExport({ high: people(0, 60), lapsed: people(1000, 20).map((row) => row.slice(0, 2)) }, { at: new Date(Date.now() - 3_600_000), notify: true });
    const source = await waitFor('the first ingestion', async () => {
      const read = (await app.api<SourceResource>('GET', `sources/${sourceId}`)).body;
      return read.status.entities.filter((entity) => entity.lastIngested?.runs).length === 2 ? read : undefined;
    });
    expect(await segmentVersion('HighValue')).toBe(source.status.entities[0]!.lastIngested!.version);
    expect(source.status.entities.map((entity) => [entity.entity, entity.lastIngested?.memberCount])).toEqual([
      ['HighValue', 60],
      ['Lapsed', 20],
    ]);
  });

  it('runs the exports that use the segments by themselves when the next export lands, and the destinations equal the new CSVs', async () => {
    const iterable = await app.createConnection('iterable');
    const omnisend = await app.createConnection('omnisend');
    iterableExport = await app.createExport({ name: 'High value to Iterable', connectionId: iterable, segmentIds: ['HighValue'], mapping: { email: 'Email', firstName: 'FirstName' } });
    omnisendExport = await app.createExport({ name: 'Lapsed to Omnisend', connectionId: omnisend, segmentIds: ['Lapsed'], mapping: { email: 'Email' } });
    const before = new Date().toISOString();

    const high = people(20, 70);
    const gone = people(1000, 20).map((row) => row.slice(0, 2)).slice(5);
    await landExport({ high, lapsed: gone }, { at: new Date(), notify: true });
    const [iterableRun, omnisendRun] = await Promise.all([sourceRunAfter(iterableExport, before), sourceRunAfter(omnisendExport, before)]);
    expect(iterableRun).toMatchObject({ status: 'succeeded', trigger: 'source', mode: 'delta', totals: { profiles: 70, adds: 70 } });
    expect(omnisendRun).toMatchObject({ status: 'succeeded', trigger: 'source', totals: { profiles: 15 } });

    const list = app.emulators.iterable.listByName('HighValue')[0]!;
    expect(app.emulators.iterable.listMembers(list.id).sort()).toEqual(high.map((row) => row[1]).sort());
    expect(app.emulators.iterable.state.users.get('person21@example.com')).toMatchObject({ firstName: 'First21' });
    // Omnisend applies tags asynchronously (a moment after its 202), as documented.
    await expect.poll(() => app.emulators.omnisend.tagMembers('Lapsed').sort(), { timeout: 5_000 }).toEqual(gone.map((row) => row[1]).sort());
  });

  it('makes one version and starts no run when the same event is delivered again', async () => {
    const version = await segmentVersion('HighValue');
    const model = await blobCreatedEvent(container, `${FOLDER}/model.json`);
    await deliverEvent(queue(), model);
    await deliverEvent(queue(), model);
    await waitFor('the redelivered events', async () => ((await queue().getProperties()).approximateMessagesCount === 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await segmentVersion('HighValue')).toBe(version);
    const runs = (await app.api<{ items: RunResource[] }>('GET', `exports/${iterableExport}/runs`)).body.items;
    expect(runs.filter((run) => run.trigger === 'source')).toHaveLength(1);
  });

  it('finds an export whose event was lost on the next timer scan', async () => {
    const before = new Date().toISOString();
    const version = await segmentVersion('HighValue');
    const high = people(30, 65);
    await landExport({ high, lapsed: people(1000, 3).map((row) => row.slice(0, 2)) }, { at: new Date(Date.now() + 60_000), notify: false });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await segmentVersion('HighValue')).toBe(version);

    const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
    await sourcesTimer.options.handler(timer, new InvocationContext({ functionName: sourcesTimer.name }));
    const run = await sourceRunAfter(iterableExport, before);
    expect(run).toMatchObject({ status: 'succeeded', totals: { adds: 5, removes: 10 } });
    const list = app.emulators.iterable.listByName('HighValue')[0]!;
    expect(app.emulators.iterable.listMembers(list.id).sort()).toEqual(high.map((row) => row[1]).sort());
  });

  it('queues a scan on request, and answers 404 for a source that does not exist', async () => {
    const scanned = await app.api<{ status: string; statusUrl: string }>('POST', `sources/${sourceId}/scan`);
    expect(scanned).toMatchObject({ status: 202, body: { status: 'queued', statusUrl: `/api/sources/${sourceId}` } });
    expect((await app.api('POST', 'sources/src-nothere/scan')).status).toBe(404);
  });
});
