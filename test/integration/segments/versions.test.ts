import { beforeEach, describe, expect, it } from 'vitest';
import { segmentsDelete } from '../../../functions/segments-delete';
import { segmentsGet } from '../../../functions/segments-get';
import type { SegmentUploadResult } from '../../../src/domain/segment';
import { ingestSegment, type IngestSegmentOptions } from '../../../src/segments/ingest';
import { newSegmentVersion, partBlobName } from '../../../src/segments/layout';
import { readSegment } from '../../../src/segments/reader';
import { requireSegment } from '../../../src/segments/repository';
import {
  acquireCurrentSegmentVersion,
  acquireSegmentVersion,
  releaseSegmentVersion,
  sweepSegments,
} from '../../../src/segments/versions';
import { createTestContext, type TestContext } from '../../support/context';
import { ADMIN, invokeHttp } from '../../support/http';
import { blobNames, gatedBody, readAll, storedVersions, upload } from './helpers';

const HOUR_IN_MS = 60 * 60 * 1000;
let context: TestContext;
let clock: number;

beforeEach(async () => {
  clock = Date.parse('2025-03-01T10:00:00.000Z');
  context = await createTestContext({ now: () => new Date(clock) });
});

/** Each upload starts a millisecond later than the one before, as version ids need. */
async function uploadCsv(segmentId: string, body: string): Promise<SegmentUploadResult> {
  clock += 1;
  const response = await upload(segmentId, body);
  expect(response.status, response.text).toBe(200);
  return response.body as SegmentUploadResult;
}

function ingest(options: Partial<IngestSegmentOptions> & Pick<IngestSegmentOptions, 'segmentId' | 'body'>): Promise<SegmentUploadResult> {
  clock += 1;
  return ingestSegment(context, { format: 'csv', uploadedBy: 'test', ...options });
}

function rows(from: number, count: number): string {
  let text = '';
  for (let i = from; i < from + count; i++) text += `${i},member${i}@example.com\n`;
  return text;
}

async function* bodyOf(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield Buffer.from(chunk);
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not met');
}

describe('segment versions', () => {
  it('keeps the previous version current and readable until the new upload is complete', async () => {
    const old = await uploadCsv('live', 'id,email\n1,old@example.com\n');
    const { body, release, reachedGate } = gatedBody(`id,email\n${rows(100, 20_000)}`, rows(30_000, 10));
    const pending = ingest({ segmentId: 'live', body, recordsPerPart: 1_000 });
    await reachedGate;
    // Parts of the new version are already stored while the upload streams on.
    await waitFor(async () => (await storedVersions(context, 'live')).length === 2);

    expect(await requireSegment(context, 'live')).toMatchObject({ version: old.version, memberCount: 1 });
    expect(await readAll(context, 'live', old.version)).toEqual([{ key: '1', values: { id: '1', email: 'old@example.com' } }]);

    release();
    const replaced = await pending;
    expect(replaced.memberCount).toBe(20_010);
    expect(await requireSegment(context, 'live')).toMatchObject({ version: replaced.version, memberCount: 20_010 });
    expect(await storedVersions(context, 'live')).toEqual([replaced.version]);
    const members = await readAll(context, 'live', replaced.version);
    expect(members).toHaveLength(20_010);
    expect(members.at(-1)).toEqual({ key: '30009', values: { id: '30009', email: 'member30009@example.com' } });
  });

  it('removes every blob of a failed upload and leaves the previous version current', async () => {
    const old = await uploadCsv('keep', 'id,email\n1,old@example.com\n');
    const { body, release, reachedGate } = gatedBody(`id,email\n${rows(100, 20_000)}`, `${rows(50_000, 5)}oops,"unclosed\n${rows(60_000, 5)}`);
    const pending = ingest({ segmentId: 'keep', body, recordsPerPart: 1_000 });
    const failed = expect(pending).rejects.toMatchObject({ code: 'segment_csv_malformed', details: { line: 20_007, column: 6 } });
    await reachedGate;
    await waitFor(async () => (await storedVersions(context, 'keep')).length === 2);

    release();
    await failed;
    expect(await requireSegment(context, 'keep')).toMatchObject({ version: old.version, memberCount: 1 });
    expect(await storedVersions(context, 'keep')).toEqual([old.version]);
    expect(await readAll(context, 'keep', old.version)).toHaveLength(1);
  });

  it('stops the part being uploaded when an upload fails halfway through it', async () => {
    const old = await uploadCsv('midway', 'id,email\n1,old@example.com\n');
    const failing = ingest({ segmentId: 'midway', body: bodyOf(`id,email\n${rows(100, 20_000)}2,"unclosed\n`) });

    await expect(failing).rejects.toMatchObject({ code: 'segment_csv_malformed', details: { line: 20_002 } });
    expect(await requireSegment(context, 'midway')).toMatchObject({ version: old.version });
    expect(await storedVersions(context, 'midway')).toEqual([old.version]);
  });

  it('refuses an upload that a later-started upload overtook, keeping the later one', async () => {
    await uploadCsv('race', 'id\n1\n');
    const slow = gatedBody('id\n', '2\n');
    const overtaken = ingest({ segmentId: 'race', body: slow.body });
    const refused = expect(overtaken).rejects.toMatchObject({ code: 'conflict', status: 409 });
    await slow.reachedGate;
    const later = await uploadCsv('race', 'id\n3\n');

    slow.release();
    await refused;
    expect(await requireSegment(context, 'race')).toMatchObject({ version: later.version });
    expect(await storedVersions(context, 'race')).toEqual([later.version]);
  });

  it('keeps a version that a run holds after it was replaced, and deletes it on release', async () => {
    const first = await uploadCsv('held', 'id\n1\n2\n');
    const info = await acquireSegmentVersion(context, 'held', first.version, 'run-1');
    expect(info).toEqual({ segmentId: 'held', version: first.version, fields: ['id'], keyField: 'id', memberCount: 2 });
    const second = await uploadCsv('held', 'id\n3\n');

    expect(await storedVersions(context, 'held')).toEqual([first.version, second.version]);
    expect((await readAll(context, 'held', first.version)).map((member) => member.key)).toEqual(['1', '2']);

    await releaseSegmentVersion(context, 'held', first.version, 'run-1');
    expect(await storedVersions(context, 'held')).toEqual([second.version]);
    await expect(acquireSegmentVersion(context, 'held', first.version, 'run-2')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps a held version while other runs release theirs', async () => {
    const first = await uploadCsv('shared', 'id\n1\n');
    await acquireSegmentVersion(context, 'shared', first.version, 'run-a');
    await acquireSegmentVersion(context, 'shared', first.version, 'run-b');
    const second = await uploadCsv('shared', 'id\n2\n');

    await releaseSegmentVersion(context, 'shared', first.version, 'run-a');
    expect(await storedVersions(context, 'shared')).toEqual([first.version, second.version]);
    await releaseSegmentVersion(context, 'shared', first.version, 'run-b');
    expect(await storedVersions(context, 'shared')).toEqual([second.version]);
  });

  it('ignores a hold older than the expiry, so that a crashed run cannot pin a version', async () => {
    const first = await uploadCsv('pinned', 'id\n1\n');
    await acquireSegmentVersion(context, 'pinned', first.version, 'crashed-run');
    clock += 25 * HOUR_IN_MS;
    const second = await uploadCsv('pinned', 'id\n2\n');

    expect(await storedVersions(context, 'pinned')).toEqual([second.version]);
    expect(context.logs.some((record) => record.message === 'segment hold expired')).toBe(true);
  });

  it('acquires the current version for a run', async () => {
    const current = await uploadCsv('now', 'id\n1\n');
    expect(await acquireCurrentSegmentVersion(context, 'now', 'run-1')).toMatchObject({ id: 'now', version: current.version });
    await expect(acquireCurrentSegmentVersion(context, 'missing', 'run-1')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps a held version of a deleted segment until the run releases it', async () => {
    const only = await uploadCsv('doomed', 'id\n1\n');
    await acquireSegmentVersion(context, 'doomed', only.version, 'run-1');

    const deleted = await invokeHttp(segmentsDelete, { method: 'DELETE', params: { segmentId: 'doomed' }, principal: ADMIN });
    expect(deleted.status).toBe(204);
    expect((await invokeHttp(segmentsGet, { params: { segmentId: 'doomed' }, principal: ADMIN })).status).toBe(404);
    expect(await readAll(context, 'doomed', only.version)).toHaveLength(1);

    await releaseSegmentVersion(context, 'doomed', only.version, 'run-1');
    expect(await blobNames(context, 'doomed')).toEqual([]);
  });

  it('sweeps the blobs of uploads abandoned long ago, never those of an upload in progress', async () => {
    const container = context.storage.container(context.storage.names.containers.segments);
    const abandoned = newSegmentVersion(new Date(clock - 13 * HOUR_IN_MS));
    const inProgress = newSegmentVersion(new Date(clock - HOUR_IN_MS));
    for (const version of [abandoned, inProgress]) {
      await container.getBlockBlobClient(partBlobName('crashed', version, 0)).uploadData(Buffer.from('x'));
    }

    await sweepSegments(context);

    expect(await storedVersions(context, 'crashed')).toEqual([inProgress]);
  });

  it('stops reading when the abort signal fires', async () => {
    const segment = await uploadCsv('abort', `id,email\n${rows(1, 20_000)}`);
    const controller = new AbortController();
    let read = 0;
    const reading = (async () => {
      for await (const _member of readSegment(context, 'abort', segment.version, { abortSignal: controller.signal })) {
        if (++read === 10) controller.abort();
      }
    })();
    await expect(reading).rejects.toThrow();
    expect(read).toBeLessThan(20_000);
  });
});
