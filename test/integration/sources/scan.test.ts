import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, it } from 'vitest';
import { blobCreatedEvent, writeCdmFolder, writeModel, type CdmEntityFixture } from '../../../dev/cdm-folder';
import type { Principal } from '../../../src/domain/policy';
import type { CreateSourceBody, SourceResource } from '../../../src/domain/source';
import { createSourceBodySchema } from '../../../src/domain/source';
import { handleSourceMessage, scanSource } from '../../../src/pipeline/sources';
import { getSegment } from '../../../src/segments/repository';
import { getVersionPartition } from '../../../src/segments/table';
import { ingestSegment } from '../../../src/segments/ingest';
import { createSource, getSourceResource, updateSource } from '../../../src/sources/service';
import { createTestContext, type TestContext } from '../../support/context';
import { readAll } from '../segments/helpers';

const ADMIN: Principal = { userId: 'oid-ada', name: 'ada@example.com', roles: new Set(['Admin']) };
let context: TestContext;

beforeAll(async () => {
  context = await createTestContext({ tuning: { sources: { stabilityDelayMs: 20, recheckDelayMs: 60_000 } } });
});

async function newContainer(): Promise<ContainerClient> {
  const container = context.storage.blobService.getContainerClient(`ci-${randomBytes(5).toString('hex')}`);
  await container.create();
  return container;
}

async function newSource(container: ContainerClient, body: Partial<CreateSourceBody> = {}): Promise<SourceResource> {
  const parsed = createSourceBodySchema.parse({
    displayName: 'Customer Insights',
    kind: 'cdm-folder',
    location: { container: container.containerName, prefix: 'CustomerInsights_abc/SegmentsExport' },
    ...body,
  });
  return createSource(context, ADMIN, parsed);
}

const FOLDER = 'CustomerInsights_abc/SegmentsExport';

/** Two entities as Customer Insights exports them: several partitions, no header row (the CDM default). */
function highValue(rows = HIGH_VALUE): CdmEntityFixture {
  return { name: 'HighValue', attributes: ['CustomerId', 'Email', 'FirstName', 'Note'], rows, partitions: 3, bom: true, crlf: true };
}
const HIGH_VALUE = [
  ['C001', 'ada@example.com', 'Ada', 'likes commas, "quotes"'],
  ['C002', 'alan@example.com', 'Alan', 'two\nlines'],
  ['C003', 'grace@example.com', 'Grace', ''],
  ['C004', 'linus@example.com', 'Linus', 'Zoë, Łukasz'],
  ['C005', 'margaret@example.com', 'Margaret', 'end'],
];
const LAPSED: CdmEntityFixture = {
  name: 'Lapsed',
  attributes: ['CustomerId', 'Email'],
  rows: [
    ['L1', 'old1@example.com'],
    ['L2', 'old2@example.com'],
    ['L3', 'old3@example.com'],
  ],
  partitions: 2,
  columnHeaders: true,
  noFinalNewline: true,
};

async function members(segmentId: string): Promise<string[][]> {
  const segment = await getSegment(context, segmentId);
  if (!segment) return [];
  return (await readAll(context, segmentId, segment.version)).map((member) => segment.fields.map((field) => member.values[field]!));
}

/** Versions made of a segment: replaced versions are deleted at once, so the log counts them. */
function versionsMade(segmentId: string): number {
  return context.logs.filter((record) => record.message === 'segment uploaded' && record.segmentId === segmentId).length;
}

async function versionCount(segmentId: string): Promise<number> {
  return (await getVersionPartition(context, segmentId)).versions.length;
}

describe('scanning a CDM folder', () => {
  it('ingests every entity, its partitions in order as one version: BOM, quoting, no header or a header row per partition', async () => {
    const container = await newContainer();
    await writeCdmFolder(container, { folder: FOLDER, entities: [highValue(), LAPSED] });
    const source = await newSource(container);

    const report = await scanSource(context, source.id);
    expect(report?.ingested.map((item) => item.entity).sort()).toEqual(['HighValue', 'Lapsed']);
    expect(await members('HighValue')).toEqual(HIGH_VALUE);
    expect(await members('Lapsed')).toEqual([
      ['L1', 'old1@example.com'],
      ['L2', 'old2@example.com'],
      ['L3', 'old3@example.com'],
    ]);
    const segment = await getSegment(context, 'HighValue');
    expect(segment).toMatchObject({ name: 'HighValue', fields: ['CustomerId', 'Email', 'FirstName', 'Note'], keyField: 'CustomerId', memberCount: 5 });

    const status = await getSourceResource(context, source.id);
    const entity = status.status.entities.find((item) => item.entity === 'HighValue');
    expect(entity?.lastIngested).toMatchObject({ path: `${FOLDER}/model.json`, memberCount: 5, version: segment!.version });
    expect(entity?.lastIngested?.etag).toBeTruthy();
  });

  it('makes one version of the same model.json, whether delivered twice as an event or scanned again', async () => {
    const container = await newContainer();
    await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...highValue(), name: 'Twice' }] });
    const source = await newSource(container);
    const event = await blobCreatedEvent(container, `${FOLDER}/model.json`);
    await handleSourceMessage(context, event);
    await handleSourceMessage(context, event);
    await scanSource(context, source.id);
    expect(versionsMade('Twice')).toBe(1);
    expect(await versionCount('Twice')).toBe(1);
  });

  it('makes one version when two scans run at once (an event and the timer)', async () => {
    const container = await newContainer();
    await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...highValue(), name: 'AtOnce' }] });
    const source = await newSource(container);
    const reports = await Promise.all([scanSource(context, source.id), scanSource(context, source.id), scanSource(context, source.id)]);
    expect(reports.flatMap((report) => report!.ingested)).toHaveLength(1);
    expect(reports.flatMap((report) => report!.failed)).toEqual([]);
    expect(versionsMade('AtOnce')).toBe(1);
  });

  it('does not ingest an export whose partition is missing until it is there', async () => {
    const container = await newContainer();
    const written = await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...highValue(), name: 'Partial' }], skipPartitions: [] });
    const missing = written.partitions.Partial![1]!;
    await container.getBlobClient(missing).delete();
    const source = await newSource(container);

    const first = await scanSource(context, source.id);
    expect(first?.waiting).toEqual(['Partial']);
    expect(await getSegment(context, 'Partial')).toBeUndefined();
    const waiting = (await getSourceResource(context, source.id)).status.entities[0]!;
    expect(waiting.waiting?.reason).toContain(`partition ${missing} does not exist`);

    await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...highValue(), name: 'Partial' }], skipModel: true, at: new Date(Date.parse(written.model.modifiedTime)) });
    const second = await scanSource(context, source.id);
    expect(second?.ingested.map((item) => item.entity)).toEqual(['Partial']);
    expect(await members('Partial')).toEqual(HIGH_VALUE);
    expect((await getSourceResource(context, source.id)).status.entities[0]!.waiting).toBeUndefined();
  });

  it('leaves every segment as it was when model.json is malformed, and shows where on the source', async () => {
    const container = await newContainer();
    await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...highValue(), name: 'Steady' }] });
    const source = await newSource(container);
    await scanSource(context, source.id);
    const before = await getSegment(context, 'Steady');

    await writeModel(container, `${FOLDER}/model.json`, '{\n  "name": "CustomerInsights",\n  "entities": [\n    { "$type": "LocalEntity", "name": "Steady" "attributes": [] }\n  ]\n}\n');
    const report = await scanSource(context, source.id);
    expect(report).toMatchObject({ ingested: [], problems: 1 });
    expect(await getSegment(context, 'Steady')).toEqual(before);
    const { problems } = (await getSourceResource(context, source.id)).status;
    expect(problems).toEqual([expect.objectContaining({ code: 'source_model_invalid', path: `${FOLDER}/model.json`, line: 4, column: 48 })]);
  });

  it('records a malformed partition on its entity with the part, line and column, and changes no segment', async () => {
    const container = await newContainer();
    await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...highValue(), name: 'BadCsv' }] });
    const source = await newSource(container);
    await scanSource(context, source.id);
    const before = await getSegment(context, 'BadCsv');

    const written = await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...highValue(), name: 'BadCsv' }], at: new Date(Date.now() + 60_000) });
    const broken = written.partitions.BadCsv![2]!;
    const text = 'C006,x@example.com,X,fine\r\nC007,y@example.com,Y,"not closed\r\n';
    await container.getBlockBlobClient(broken).upload(text, Buffer.byteLength(text));
    await writeModel(container, written.modelPath, written.model);

    await scanSource(context, source.id);
    expect(await getSegment(context, 'BadCsv')).toEqual(before);
    const entity = (await getSourceResource(context, source.id)).status.entities[0]!;
    expect(entity.lastError).toMatchObject({ code: 'segment_csv_malformed', part: broken, line: 2, column: 22, willRetry: false });
    expect(entity.lastIngested?.version).toBe(before!.version);
    // The same file is not read again; a fixed export is.
    expect((await scanSource(context, source.id))?.unchanged).toBe(1);
  });

  it('recognises a version it made before a crash instead of making a second one', async () => {
    const container = await newContainer();
    await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...LAPSED, name: 'Crashed' }] });
    const source = await newSource(container);
    // The version is committed, the entity row is never written: as if the scan died in between.
    const { ingestionMarker } = await import('../../../src/pipeline/sources');
    const model = await container.getBlobClient(`${FOLDER}/model.json`).getProperties();
    const marker = ingestionMarker(source.id, { path: `${FOLDER}/model.json`, etag: model.etag!, lastModified: model.lastModified!.toISOString() });
    const made = await ingestSegment(context, { segmentId: 'Crashed', format: 'ndjson', body: (async function* () { yield Buffer.from('{"CustomerId":"L1"}\n'); })(), uploadedBy: marker });

    const report = await scanSource(context, source.id);
    expect(report?.ingested).toEqual([{ entity: 'Crashed', segmentId: 'Crashed', version: made.version, memberCount: 1 }]);
    expect(versionsMade('Crashed')).toBe(1);
    expect((await getSegment(context, 'Crashed'))?.version).toBe(made.version);
  });

  it('reads only the entities the source maps, into the segments it names', async () => {
    const container = await newContainer();
    await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...highValue(), name: 'Mapped' }, { ...LAPSED, name: 'Ignored' }] });
    const source = await newSource(container, { entities: [{ entity: 'Mapped', segmentId: 'vip-from-ci', name: 'VIP (from CI)' }] });
    await scanSource(context, source.id);
    expect(await getSegment(context, 'vip-from-ci')).toMatchObject({ name: 'VIP (from CI)', memberCount: 5 });
    expect(await getSegment(context, 'Ignored')).toBeUndefined();
  });
});

describe('changing a source', () => {
  it('reads the same export again into the segment a changed mapping names', async () => {
    const container = await newContainer();
    await writeCdmFolder(container, { folder: FOLDER, entities: [{ ...LAPSED, name: 'Remapped' }] });
    const source = await newSource(container);
    await scanSource(context, source.id);
    expect(await getSegment(context, 'Remapped')).toBeDefined();

    await updateSource(context, ADMIN, source.id, { entities: [{ entity: 'Remapped', segmentId: 'remapped-2' }] });
    const report = await scanSource(context, source.id);
    expect(report?.ingested.map((item) => item.segmentId)).toEqual(['remapped-2']);
    expect(await getSegment(context, 'remapped-2')).toMatchObject({ memberCount: 3, name: 'Remapped' });
  });
});

describe('scanning a csv folder', () => {
  it("ingests each sub-folder's newest file (CSV with a header row, or NDJSON)", async () => {
    const container = await newContainer();
    const put = async (name: string, text: string) => container.getBlockBlobClient(`drops/${name}`).upload(text, Buffer.byteLength(text));
    await put('csv-vip/2025-01-01.csv', 'CustomerId,Email\nV1,old@example.com\n');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await put('csv-vip/2025-01-02.csv', '\uFEFFCustomerId,Email\nV1,new@example.com\nV2,"b, c@example.com"\n');
    await put('csv-app/users.ndjson', '{"id":"A1","Email":"a@example.com"}\n');
    await put('loose.csv', 'CustomerId\nX\n');
    const source = await newSource(container, { kind: 'csv-folder', location: { container: container.containerName, prefix: 'drops' } });

    const report = await scanSource(context, source.id);
    expect(report?.ingested.map((item) => item.entity).sort()).toEqual(['csv-app', 'csv-vip']);
    expect(await members('csv-vip')).toEqual([
      ['V1', 'new@example.com'],
      ['V2', 'b, c@example.com'],
    ]);
    expect(await members('csv-app')).toEqual([['A1', 'a@example.com']]);
  });
});
