import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { DEFAULT_SEGMENT_LIMITS } from '../../../src/domain/segment';
import { createTestContext } from '../../support/context';
import { blobNames, NDJSON, upload } from '../segments/helpers';

describe('finding 9: upload limits fit the instance and Table storage', () => {
  it('defaults to limits a 2 GB instance holds: 2 M records and 512 MiB', () => {
    const config = loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    expect(config.segmentLimits).toEqual({ maxRecords: 2_000_000, maxBodyBytes: 512 * 1024 ** 2 });
    expect(DEFAULT_SEGMENT_LIMITS).toMatchObject(config.segmentLimits);
  });

  it('takes the record limit from SEGMENT_MAX_RECORDS', async () => {
    const context = await createTestContext({ env: { SEGMENT_MAX_RECORDS: '3' } });
    expect((await upload('three', 'id\n1\n2\n3\n')).status).toBe(200);
    const response = await upload('four', 'id\n1\n2\n3\n4\n');
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'segment_limit_exceeded', details: { limit: 'maxRecords', max: 3, line: 5 } } });
    expect(await blobNames(context, 'four')).toEqual([]);
  });

  it('takes the body limit from SEGMENT_MAX_UPLOAD_BYTES, declared or streamed', async () => {
    await createTestContext({ env: { SEGMENT_MAX_UPLOAD_BYTES: '64' } });
    const body = `id,email\n${Array.from({ length: 10 }, (_, i) => `${i},m${i}@example.com`).join('\n')}\n`;
    const declared = await upload('big', body, { headers: { 'content-length': String(body.length) } });
    expect(declared.status).toBe(413);
    const streamed = await upload('big', body);
    expect(streamed.status).toBe(413);
    expect(streamed.body).toMatchObject({ error: { code: 'segment_too_large', details: { limit: 'maxBodyBytes', max: 64 } } });
  });

  it('refuses bad limit settings at start-up', () => {
    expect(() => loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', SEGMENT_MAX_RECORDS: '0', SEGMENT_MAX_UPLOAD_BYTES: '1e9' })).toThrow(
      /SEGMENT_MAX_RECORDS[\s\S]*SEGMENT_MAX_UPLOAD_BYTES/,
    );
  });

  it('answers 400 when the field names would not fit the 32K Table property that stores them (CSV)', async () => {
    await createTestContext();
    // 200 names of 120 backslashes each: 200 columns are allowed, but JSON doubles every backslash.
    const header = ['id', ...Array.from({ length: 199 }, (_, i) => `${'\\'.repeat(120)}${i}`)].join(',');
    const response = await upload('wide', `${header}\n1${','.repeat(199)}\n`);
    expect(response.status, response.text).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'segment_limit_exceeded', details: { limit: 'fieldsJsonChars', line: 1 } } });
  });

  it('answers 400 when NDJSON records bring in field names that would not fit', async () => {
    await createTestContext();
    const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ id: String(i), [`${'\u0001'.repeat(100)}${i}`]: 'x' }));
    const response = await upload('wide-json', `${lines.join('\n')}\n`, { contentType: NDJSON });
    expect(response.status, response.text).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'segment_limit_exceeded', details: { limit: 'fieldsJsonChars' } } });
  });
});
