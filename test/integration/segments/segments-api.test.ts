import { beforeEach, describe, expect, it } from 'vitest';
import { segmentsDelete } from '../../../functions/segments-delete';
import { segmentsGet } from '../../../functions/segments-get';
import { segmentsList } from '../../../functions/segments-list';
import { createExportRow } from '../../../src/exports/repository';
import { createTestContext, type TestContext } from '../../support/context';
import { ADMIN, CONTRIBUTOR, invokeHttp } from '../../support/http';
import { blobNames, CSV, NDJSON, readAll, storedVersions, upload } from './helpers';

let context: TestContext;

beforeEach(async () => {
  context = await createTestContext();
});

const get = (segmentId: string) => invokeHttp(segmentsGet, { params: { segmentId }, principal: CONTRIBUTOR });
const remove = (segmentId: string) => invokeHttp(segmentsDelete, { method: 'DELETE', params: { segmentId }, principal: ADMIN });

const VIP_CSV = '\uFEFFCustomerId;Email;City\r\n"C1";ada@example.com;"Köln"\r\nC2;"bob@example.com";"São Paulo; SP"\r\n';

describe('PUT /api/segments/{segmentId}', () => {
  it('stores a CSV upload (BOM, semicolons, quotes) as the current version and reads it back', async () => {
    const response = await upload('vip', VIP_CSV, { name: 'VIP customers' });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      id: 'vip',
      name: 'VIP customers',
      fields: ['CustomerId', 'Email', 'City'],
      keyField: 'CustomerId',
      memberCount: 2,
      updatedBy: ADMIN.name,
      duplicateKeys: { count: 0, examples: [] },
    });
    const { version } = response.body as { version: string };
    expect(await readAll(context, 'vip', version)).toEqual([
      { key: 'C1', values: { CustomerId: 'C1', Email: 'ada@example.com', City: 'Köln' } },
      { key: 'C2', values: { CustomerId: 'C2', Email: 'bob@example.com', City: 'São Paulo; SP' } },
    ]);
    const fetched = await get('vip');
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({ id: 'vip', version, memberCount: 2 });
  });

  it('stores an NDJSON upload, discovering fields as they appear and keeping numbers as written', async () => {
    const body = [
      '{"id": 12345678901234567890, "email": "ada@example.com", "vip": true}',
      '',
      '{"id": "7", "email": "bob@example.com", "score": 1.50, "vip": null}',
    ].join('\n');

    const response = await upload('scores', body, { contentType: `${NDJSON}; charset=utf-8` });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ fields: ['id', 'email', 'vip', 'score'], keyField: 'id', memberCount: 2 });
    expect(await readAll(context, 'scores', (response.body as { version: string }).version)).toEqual([
      { key: '12345678901234567890', values: { id: '12345678901234567890', email: 'ada@example.com', vip: 'true', score: '' } },
      { key: '7', values: { id: '7', email: 'bob@example.com', vip: '', score: '1.50' } },
    ]);
  });

  it('uses the keyField query parameter as the profile key', async () => {
    const response = await upload('by-email', 'Email,Name\n ada@example.com ,Ada\n', { keyField: 'Email', principal: CONTRIBUTOR });
    expect(response.status).toBe(200);
    const members = await readAll(context, 'by-email', (response.body as { version: string }).version);
    expect(members.map((member) => member.key)).toEqual(['ada@example.com']);
  });

  it('reports duplicate keys and keeps the last record of each', async () => {
    const response = await upload('dupes', 'id,email\n1,old@example.com\n2,b@example.com\n1,new@example.com\n2,b2@example.com\n3,c@example.com\n');

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      memberCount: 3,
      duplicateKeys: { count: 2, examples: [{ key: '1', line: 4 }, { key: '2', line: 5 }] },
    });
    const members = await readAll(context, 'dupes', (response.body as { version: string }).version);
    expect(members.map((member) => member.values.email)).toEqual(['new@example.com', 'b2@example.com', 'c@example.com']);
  });

  it('replaces the members and deletes the replaced version that no run reads', async () => {
    const first = await upload('swap', 'id,v\n1,a\n2,b\n');
    const second = await upload('swap', 'id,v\n3,c\n');
    const firstVersion = (first.body as { version: string }).version;
    const secondVersion = (second.body as { version: string }).version;

    expect(second.status).toBe(200);
    expect(secondVersion > firstVersion).toBe(true);
    expect((await get('swap')).body).toMatchObject({ version: secondVersion, memberCount: 1, name: 'swap' });
    expect(await storedVersions(context, 'swap')).toEqual([secondVersion]);
    await expect(readAll(context, 'swap', firstVersion)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses a content type it cannot read', async () => {
    const response = await upload('x', '{}', { contentType: 'application/json' });
    expect(response.status).toBe(415);
    expect(response.body).toMatchObject({ error: { code: 'unsupported_media_type' } });
  });

  it('needs a principal and a role that may write segments', async () => {
    expect((await upload('x', 'id\n1\n', { principal: null })).status).toBe(401);
    expect((await upload('x', 'id\n1\n', { principal: { name: 'nobody', roles: [] } })).status).toBe(403);
  });
});

describe('GET /api/segments', () => {
  it('lists every segment and 404s an unknown one', async () => {
    await upload('a', 'id\n1\n');
    await upload('b', 'id\n1\n2\n', { name: 'Bees' });
    const list = await invokeHttp(segmentsList, { principal: CONTRIBUTOR });
    expect(list.status).toBe(200);
    expect((list.body as { items: { id: string; name: string; memberCount: number }[] }).items).toMatchObject([
      { id: 'a', name: 'a', memberCount: 1 },
      { id: 'b', name: 'Bees', memberCount: 2 },
    ]);
    expect((await get('nope')).status).toBe(404);
  });
});

describe('DELETE /api/segments/{segmentId}', () => {
  it('is refused with 409 while an export uses the segment', async () => {
    await upload('used', 'id\n1\n');
    const now = new Date().toISOString();
    await createExportRow(context, {
      id: 'exp1',
      name: 'VIP to Iterable',
      connectionId: 'c1',
      segmentIds: ['used'],
      mapping: { email: 'email' },
      options: {},
      createdAt: now,
      createdBy: ADMIN.name,
      updatedAt: now,
      updatedBy: ADMIN.name,
    });

    const response = await remove('used');

    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ error: { code: 'segment_in_use', details: { exportIds: ['exp1'] } } });
    // An export whose connection is gone is an Admin's to clean up: a Contributor does not see its segment.
    expect((await invokeHttp(segmentsGet, { params: { segmentId: 'used' }, principal: ADMIN })).status).toBe(200);
  });

  it('deletes the segment and its blobs, and succeeds again when it is already gone', async () => {
    await upload('gone', 'id\n1\n');

    expect((await remove('gone')).status).toBe(204);
    expect((await get('gone')).status).toBe(404);
    expect(await blobNames(context, 'gone')).toEqual([]);
    expect((await remove('gone')).status).toBe(204);
    const list = await invokeHttp(segmentsList, { principal: ADMIN });
    expect(list.body).toEqual({ items: [] });
  });

  it('lets a deleted segment be uploaded again as a new segment', async () => {
    await upload('again', 'id\n1\n', { name: 'First life' });
    await remove('again');
    const response = await upload('again', 'id\n2\n');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ name: 'again', memberCount: 1 });
  });

  it('needs a role that may write segments', async () => {
    await upload('guarded', 'id\n1\n');
    const response = await invokeHttp(segmentsDelete, { method: 'DELETE', params: { segmentId: 'guarded' }, principal: { name: 'n', roles: [] } });
    expect(response.status).toBe(403);
  });
});

describe('content types', () => {
  it('accepts application/x-ndjson and text/csv with a charset', async () => {
    expect((await upload('ct1', 'id\n1\n', { contentType: `${CSV}; charset=UTF-8` })).status).toBe(200);
    expect((await upload('ct2', '{"id":"1"}\n', { contentType: NDJSON })).status).toBe(200);
    expect((await upload('ct3', 'id\n1\n', { contentType: `${CSV}; charset=latin1` })).status).toBe(415);
    expect((await upload('ct4', 'id\n1\n', { headers: { 'content-encoding': 'gzip' } })).status).toBe(415);
  });
});
