import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeEmail } from '../../../src/pipeline/plan/email';
import { hashEmail, hashEmailBytes } from '../../../src/pipeline/plan/hash';
import { HashIndex } from '../../../src/pipeline/plan/hash-index';
import { fieldsHash, mapFields, mappedFieldsHash } from '../../../src/pipeline/plan/mapping';

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
});

describe('mapping', () => {
  const mapping = { email: 'Email', firstName: 'First', city: 'Town' };

  it('takes the mapped columns and leaves out empty values', () => {
    expect(mapFields({ Email: 'a@x.com', First: ' Ann ', Town: '', Other: 'x' }, mapping)).toEqual({ firstName: 'Ann' });
  });

  it('notices a changed field but not a changed unmapped column', () => {
    const before = fieldsHash(mapFields({ Email: 'a@x.com', First: 'Ann', Town: 'Oslo', Other: '1' }, mapping));
    expect(fieldsHash(mapFields({ Email: 'a@x.com', First: 'Ann', Town: 'Oslo', Other: '2' }, mapping))).toBe(before);
    expect(fieldsHash(mapFields({ Email: 'a@x.com', First: 'Ann', Town: 'Bergen', Other: '1' }, mapping))).not.toBe(before);
    // A value moving between fields is a change too.
    expect(fieldsHash({ firstName: 'A', lastName: '' })).not.toBe(fieldsHash({ firstName: '', lastName: 'A' }));
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
        expect(mappedFieldsHash(values, mapping)).toBe(fieldsHash(mapFields(values, mapping)));
      }),
    );
  });
});
