import { describe, expect, it } from 'vitest';
import { MappedColumns } from '../../../src/pipeline/plan/mapping';
import { encodeRow } from '../../../src/segments/codec';
import { commitVersion } from '../../../src/segments/commit';
import { newSegmentVersion } from '../../../src/segments/layout';
import { VersionWriter } from '../../../src/segments/version-writer';
import { createTestContext, type TestContext } from '../../support/context';
import { NDJSON, readAll, upload } from '../segments/helpers';

/** A version stored before uploads refused these names: written the way the ingestion writes one. */
async function storeVersionWithFields(context: TestContext, segmentId: string, fields: string[], rows: string[][]): Promise<string> {
  const version = newSegmentVersion(context.now());
  const writer = new VersionWriter(context.storage.container(context.storage.names.containers.segments), segmentId, version);
  for (const row of rows) await writer.append(encodeRow(row));
  const partCount = await writer.finish();
  await commitVersion(context, {
    segmentId,
    version,
    name: undefined,
    uploadedBy: 'ada@example.com',
    fields,
    keyField: fields[0]!,
    recordCount: rows.length,
    memberCount: rows.length,
    supersededCount: 0,
    partCount,
  });
  return version;
}

describe('finding 11: field names cannot reach an object prototype', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('refuses %s as a CSV or NDJSON field name with 400', async (name) => {
    await createTestContext();
    const csv = await upload('csv-proto', `id,${name}\n1,ada@example.com\n`);
    expect(csv.status, csv.text).toBe(400);
    expect(csv.body).toMatchObject({ error: { code: 'segment_csv_malformed', details: { line: 1 } } });
    const ndjson = await upload('ndjson-proto', `{"id":"1","email":"a@example.com"}\n{"id":"2","${name}":"b@example.com"}\n`, { contentType: NDJSON });
    expect(ndjson.status, ndjson.text).toBe(400);
    expect(ndjson.body).toMatchObject({ error: { code: 'segment_json_malformed', details: { line: 2 } } });
  });

  it('reads members of an older version with a __proto__ field as plain values, so a mapping of it works', async () => {
    const context = await createTestContext();
    const version = await storeVersionWithFields(context, 'legacy', ['id', '__proto__', 'constructor'], [['1', 'ada@example.com', 'x']]);
    const [member] = await readAll(context, 'legacy', version);
    expect(Object.getPrototypeOf(member!.values)).toBeNull();
    expect(Object.keys(member!.values)).toEqual(['id', '__proto__', 'constructor']);
    // The planner reads stored rows: the mapping is column numbers, and a field named __proto__ is one.
    const columns = new MappedColumns({ email: 'id', firstName: 'constructor', lastName: '__proto__' }, Object.keys(member!.values));
    expect(columns.fields(Object.values(member!.values))).toEqual({ firstName: 'x', lastName: 'ada@example.com' });
    expect(member!.values['__proto__']).toBe('ada@example.com');
  });
});
