import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeEmail } from '../../../src/pipeline/plan/email';
import { hashEmail, hashEmailBytes } from '../../../src/hashing/hash';
import { HashIndex } from '../../../src/hashing/hash-index';
import { KeyTable } from '../../../src/hashing/key-table';
import { fieldsHash, MappedColumns } from '../../../src/pipeline/plan/mapping';

describe('email normalisation', () => {
  it.each([
    ['  Ann.Lee+vip@Example.COM ', 'ann.lee+vip@example.com'],
    ['o\'brien@mail.example.co.uk', "o'brien@mail.example.co.uk"],
  ])('accepts %s as %s', (raw, email) => {
    expect(normalizeEmail(raw)).toEqual({ ok: true, email });
  });

  it.each([
    [undefined, 'missing_email'],
    ['   ', 'missing_email'],
    ['no-at-sign.example.com', 'invalid_email'],
    ['two@@example.com', 'invalid_email'],
    ['a@b@example.com', 'invalid_email'],
    ['with space@example.com', 'invalid_email'],
    ['dot.@example.com', 'invalid_email'],
    ['someone@localhost', 'invalid_email'],
    ['someone@-example.com', 'invalid_email'],
    [`${'x'.repeat(65)}@example.com`, 'invalid_email'],
  ])('rejects %s with %s', (raw, code) => {
    expect(normalizeEmail(raw)).toMatchObject({ ok: false, code });
  });
});

describe('the planner hash index', () => {
  it('behaves like a Map of 64-bit keys while it grows', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.emailAddress(), fc.integer({ min: 0, max: 2 ** 40 })), { maxLength: 3000 }), (entries) => {
        const index = new HashIndex(4);
        const model = new Map<string, number>();
        for (const [email, value] of entries) {
          index.set(hashEmail(email), value);
          model.set(email, value);
        }
        expect(index.size).toBe(model.size);
        for (const [email, value] of model) {
          const slot = index.find(hashEmail(email));
          expect(slot).toBeGreaterThanOrEqual(0);
          expect(index.valueAt(slot)).toBe(value);
        }
        if (!model.has('never-inserted@example.org')) expect(index.find(hashEmail('never-inserted@example.org'))).toBe(-1);
      }),
      { numRuns: 30 },
    );
  });

  it('keeps flags per entry', () => {
    const index = new HashIndex();
    const slot = index.set(hashEmail('a@example.com'), 1, 1);
    index.addFlags(slot, 4);
    expect(index.flagsAt(index.find(hashEmail('a@example.com')))).toBe(5);
  });

  it('keeps values, flags and tags of every entry while it grows, and counts flags', () => {
    const index = new HashIndex(10);
    const emails = Array.from({ length: 5000 }, (_, i) => `member${i}@example.com`);
    for (const [i, email] of emails.entries()) {
      const slot = index.set(hashEmail(email), i * 1_000_003, i % 3 === 0 ? 1 : 2);
      index.setTag(slot, i % 50);
    }
    for (const [i, email] of emails.entries()) {
      const slot = index.find(hashEmail(email));
      expect([index.valueAt(slot), index.flagsAt(slot), index.tagAt(slot)]).toEqual([i * 1_000_003, i % 3 === 0 ? 1 : 2, i % 50]);
    }
    expect(index.size).toBe(5000);
    expect(index.countFlags(1)).toBe(1667);
    expect(index.countFlags(2, 1)).toBe(3333);
    let keys = 0;
    index.forEachKey(() => keys++);
    expect(keys).toBe(5000);
  });

  it('holds as many entries as it was sized for without growing, at three quarters full at most', () => {
    const index = new HashIndex(100_000);
    expect(index.room).toBeGreaterThanOrEqual(100_000);
    // Slots of 18 bytes at most 3/4 full: about 24 bytes an entry (a power of two could need 36).
    expect(index.room).toBeLessThan(100_000 + 1024);
  });

  it('never reports its own bookkeeping as a flag, and wraps around its last slot', () => {
    const index = new HashIndex(1);
    // Keys whose home is the last slot: the probe must wrap to slot 0 and find them all.
    const last = { hi: 0, lo: 0xffffffff };
    const keys = [last, { hi: 0x12345678, lo: (last.lo ^ Math.imul(0x12345678, 0x9e3779b1)) >>> 0 }, { hi: 7, lo: (last.lo ^ Math.imul(7, 0x9e3779b1)) >>> 0 }];
    for (const [i, key] of keys.entries()) index.addFlags(index.set(key, i, 0xff), 0xff);
    for (const [i, key] of keys.entries()) {
      const slot = index.find(key);
      expect(index.valueAt(slot)).toBe(i);
      expect(index.flagsAt(slot)).toBe(0x7f);
    }
    expect(index.find(keys[1]!)).toBeLessThan(2);
  });
});

describe('the upload key table', () => {
  it('behaves like a Map of 64-bit keys up to its size', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.nat()), { maxLength: 4000 }), (entries) => {
        const index = new KeyTable(entries.length);
        const model = new Map<string, number>();
        for (const [key, value] of entries) {
          index.set(hashEmail(key), value);
          model.set(key, value);
        }
        expect(index.size).toBe(model.size);
        for (const [key, value] of model) expect(index.get(hashEmail(key))).toBe(value);
        if (!model.has('never-a-key')) expect(index.get(hashEmail('never-a-key'))).toBeUndefined();
      }),
      { numRuns: 20 },
    );
  });

  it('refuses a key past its size and keeps replacing the ones it has', () => {
    const table = new KeyTable(2);
    table.set(hashEmail('a'), 0);
    table.set(hashEmail('b'), 1);
    table.set(hashEmail('a'), 7);
    expect(() => table.set(hashEmail('c'), 2)).toThrow(RangeError);
    expect([table.get(hashEmail('a')), table.get(hashEmail('b')), table.get(hashEmail('c')), table.size]).toEqual([7, 1, undefined, 2]);
  });
});

/** `mappedFieldsHash` of this member before rows replaced member objects (computed with that code). */
const LEDGER_HASH_OF_ANN_IN_OSLO = 1517404997280453;

describe('mapping', () => {
  const mapping = { email: 'Email', firstName: 'First', city: 'Town' };
  const fields = ['Email', 'First', 'Town', 'Other'];
  const columns = new MappedColumns(mapping, fields);

  it('takes the mapped columns and leaves out empty values', () => {
    expect(columns.fields(['a@x.com', ' Ann ', '', 'x'])).toEqual({ firstName: 'Ann' });
    expect(columns.emailOf(['a@x.com', ' Ann ', '', 'x'])).toBe('a@x.com');
    // A short row (a value missing at its end) is empty there; a version without the email column has none.
    expect(columns.fields(['a@x.com', 'Ann'])).toEqual({ firstName: 'Ann' });
    expect(new MappedColumns(mapping, ['First']).emailOf(['Ann'])).toBeUndefined();
  });

  it('notices a changed field but not a changed unmapped column', () => {
    const before = fieldsHash(columns.fields(['a@x.com', 'Ann', 'Oslo', '1']));
    expect(fieldsHash(columns.fields(['a@x.com', 'Ann', 'Oslo', '2']))).toBe(before);
    expect(fieldsHash(columns.fields(['a@x.com', 'Ann', 'Bergen', '1']))).not.toBe(before);
    // A value moving between fields is a change too.
    expect(fieldsHash({ firstName: 'A', lastName: '' })).not.toBe(fieldsHash({ firstName: '', lastName: 'A' }));
  });

  it('hashes a row exactly as the fields it maps to, whatever the column order', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 6 }), { minLength: 4, maxLength: 4 }), fc.boolean(), (values, reversed) => {
        const order = reversed ? [...fields].reverse() : fields;
        const row = order.map((field) => values[fields.indexOf(field)]!);
        const read = new MappedColumns(mapping, order);
        expect(read.fieldsHash(row)).toBe(fieldsHash(read.fields(row)));
        expect(read.fieldsHash(row)).toBe(columns.fieldsHash(values));
      }),
    );
  });

  it('keeps the hash the ledgers of earlier versions hold (a cyrb53 over the mapped fields in their fixed order)', () => {
    // Changing this value would make every member of every ledger an update on the next run.
    expect(columns.fieldsHash(['a@x.com', 'Ann', 'Oslo', '1'])).toBe(LEDGER_HASH_OF_ANN_IN_OSLO);
  });
});

describe('hashing without strings', () => {
  it('hashes an ASCII email in a buffer exactly like the string', () => {
    fc.assert(
      fc.property(fc.emailAddress(), fc.string({ maxLength: 5 }), (email, prefix) => {
        const bytes = Buffer.from(`${[...prefix].filter((c) => c.charCodeAt(0) < 128).join('')}${email}\t`, 'latin1');
        const start = bytes.length - 1 - email.length;
        expect(hashEmailBytes(bytes, start, bytes.length - 1)).toEqual(hashEmail(email));
      }),
    );
  });

  it('hashes the mapped fields of a member like the fields themselves', () => {
    const mapping = { email: 'E', firstName: 'F', city: 'C', postalCode: 'P' };
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('E', 'F', 'C', 'P', 'X'), fc.string()), (values) => {
        const columns = new MappedColumns(mapping, Object.keys(values));
        const row = Object.values(values);
        expect(columns.fieldsHash(row)).toBe(fieldsHash(columns.fields(row)));
      }),
    );
  });
});
