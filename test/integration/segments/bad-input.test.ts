import { beforeAll, describe, expect, it } from 'vitest';
import type { Segment } from '../../../src/domain/segment';
import { ingestSegment } from '../../../src/segments/ingest';
import { requireSegment } from '../../../src/segments/repository';
import { createTestContext, type TestContext } from '../../support/context';
import { CSV, NDJSON, storedVersions, upload } from './helpers';

/**
 * Every malformed upload is refused with a code and the line where the problem is, and leaves the
 * current version as it was (with no blobs left behind).
 */
let context: TestContext;
let before: Segment;

beforeAll(async () => {
  context = await createTestContext();
  const response = await upload('target', 'CustomerId,Email\nC1,ada@example.com\n');
  expect(response.status).toBe(200);
  before = await requireSegment(context, 'target');
});

const wide = (count: number) => Array.from({ length: count }, (_, i) => `f${i}`).join(',');

interface BadCase {
  body: string | Uint8Array;
  contentType?: string;
  keyField?: string;
  code: string;
  line: number;
  column?: number;
  limit?: string;
}

const cases: Record<string, BadCase> = {
  'a CSV record with too few fields': { body: 'CustomerId,Email\nC1,a\nC2\n', code: 'segment_csv_malformed', line: 3, column: 3 },
  'a CSV record with too many fields': { body: 'CustomerId,Email\nC1,a,b\n', code: 'segment_csv_malformed', line: 2, column: 7 },
  'a quote inside an unquoted CSV field': { body: 'CustomerId,Name\nC1,The "Boss"\n', code: 'segment_csv_malformed', line: 2, column: 8 },
  'text after a closing quote': { body: 'CustomerId,Name\nC1,"Boss" Hogg\n', code: 'segment_csv_malformed', line: 2, column: 10 },
  'an unclosed quote': { body: 'CustomerId,Name\nC1,"Boss\nC2,x\n', code: 'segment_csv_malformed', line: 2, column: 4 },
  'a repeated header field': { body: 'CustomerId,Email,Email\nC1,a,b\n', code: 'segment_csv_malformed', line: 1 },
  'an empty header field': { body: 'CustomerId,,Email\nC1,a,b\n', code: 'segment_csv_malformed', line: 1 },
  'no key field': { body: 'Email,Name\na@example.com,Ada\n', code: 'segment_key_missing', line: 1 },
  'a keyField that is not a field': { body: 'CustomerId,Email\nC1,a\n', keyField: 'Mail', code: 'segment_key_missing', line: 1 },
  'a record without a key': { body: 'CustomerId,Email\nC1,a\n  ,b\n', code: 'segment_key_missing', line: 3 },
  'an empty upload': { body: '', code: 'segment_empty', line: 1 },
  'a header without records': { body: 'CustomerId,Email\n', code: 'segment_empty', line: 2 },
  'only blank lines': { body: '\r\n\n\n', code: 'segment_empty', line: 4 },
  'bytes that are not UTF-8': { body: Buffer.from('CustomerId,Name\nC1,ok\nC2,\xff\xfe\n', 'latin1'), code: 'segment_encoding_invalid', line: 3 },
  'a malformed JSON line': {
    body: '{"CustomerId":"C1"}\n\n{"CustomerId":"C2",}\n',
    contentType: NDJSON,
    code: 'segment_json_malformed',
    line: 3,
    column: 20,
  },
  'a JSON line that is not an object': { body: '{"CustomerId":"C1"}\n["C2"]\n', contentType: NDJSON, code: 'segment_json_malformed', line: 2, column: 1 },
  'a nested JSON value': {
    body: '{"CustomerId":"C1","tags":["a"]}\n',
    contentType: NDJSON,
    code: 'segment_json_malformed',
    line: 1,
    column: 27,
  },
  'a JSON record without a key': { body: '{"CustomerId":"C1"}\n{"Email":"a@example.com"}\n', contentType: NDJSON, code: 'segment_key_missing', line: 2 },
  'an empty NDJSON upload': { body: '\n  \n', contentType: NDJSON, code: 'segment_empty', line: 3 },
  'a field over the length limit': {
    body: `CustomerId,Note\nC1,ok\nC2,${'x'.repeat(16 * 1024 + 1)}\n`,
    code: 'segment_limit_exceeded',
    line: 3,
    limit: 'maxFieldChars',
  },
  'a line over the length limit': {
    body: `CustomerId,${wide(99)}\nC1${`,${'x'.repeat(12_000)}`.repeat(99)}\n`,
    code: 'segment_limit_exceeded',
    line: 2,
    limit: 'maxLineChars',
  },
  'a JSON line over the length limit': {
    body: `{"CustomerId":"C1"}\n{"CustomerId":"C2","a":"${'x'.repeat(1024 * 1024)}"}\n`,
    contentType: NDJSON,
    code: 'segment_limit_exceeded',
    line: 2,
    limit: 'maxLineChars',
  },
  'more fields per record than allowed': { body: `CustomerId,${wide(200)}\n`, code: 'segment_limit_exceeded', line: 1, limit: 'maxFieldsPerRecord' },
};

describe('a malformed upload', () => {
  it.each(Object.entries(cases))('is refused: %s', async (_name, bad) => {
    const response = await upload('target', bad.body, { contentType: bad.contentType ?? CSV, keyField: bad.keyField });

    expect(response.status, response.text).toBe(400);
    const error = (response.body as { error: { code: string; message: string; details: Record<string, unknown> } }).error;
    expect(error.code).toBe(bad.code);
    expect(error.details.line).toBe(bad.line);
    if (bad.column !== undefined) expect(error.details.column).toBe(bad.column);
    if (bad.limit !== undefined) expect(error.details.limit).toBe(bad.limit);
    expect(error.message).toMatch(/line \d+|no records/i);
    expect(await requireSegment(context, 'target')).toEqual(before);
    expect(await storedVersions(context, 'target')).toEqual([before.version]);
  });

  it('is refused with 413 when it declares more bytes than the limit', async () => {
    const response = await upload('target', 'CustomerId\nC1\n', { contentType: CSV, headers: { 'content-length': String(3 * 1024 ** 3) } });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ error: { code: 'segment_too_large', details: { limit: 'maxBodyBytes', line: 1 } } });
  });

  it('is refused with 413 when its body grows past the limit, naming the line reached', async () => {
    const body = Buffer.from(`CustomerId,Email\n${'C1,a@example.com\n'.repeat(100)}`);
    const chunks = async function* () {
      for (let i = 0; i < body.length; i += 64) yield body.subarray(i, i + 64);
    };
    await expect(
      ingestSegment(context, { segmentId: 'target', format: 'csv', body: chunks(), uploadedBy: 'test', limits: { maxBodyBytes: 1_000 } }),
    ).rejects.toMatchObject({ code: 'segment_too_large', status: 413, details: { limit: 'maxBodyBytes', max: 1_000, line: 57 } });
    expect(await requireSegment(context, 'target')).toEqual(before);
    expect(await storedVersions(context, 'target')).toEqual([before.version]);
  });
});
