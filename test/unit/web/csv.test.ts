import { describe, expect, it } from 'vitest';
import { csvCell, rejectsCsv } from '../../../src/web/csv';

describe('the rejects CSV the web app downloads', () => {
  it.each([
    ['plain@example.com', 'plain@example.com'],
    ['with,comma', '"with,comma"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=HYPERLINK("x")', '"\'=HYPERLINK(""x"")"'],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@sum', "'@sum"],
    ['', ''],
  ])('writes %j as %j', (value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });

  it('has a header row and one line per reject', () => {
    const csv = rejectsCsv([
      { email: 'a@example', segmentId: 'vip', code: 'invalid_email', reason: 'The domain is not valid' },
      { email: '', segmentId: 'vip', code: 'missing_email', reason: 'The mapped email field is empty' },
    ]);
    expect(csv).toBe(
      'email,segmentId,code,reason\r\na@example,vip,invalid_email,The domain is not valid\r\n,vip,missing_email,The mapped email field is empty\r\n',
    );
  });
});
