import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countryCodeOf, toE164 } from '../../../src/providers/omnisend/phone';
import { OMNISEND_TAG_PATTERN, omnisendTagName } from '../../../src/providers/omnisend/tags';

describe('Omnisend tag names', () => {
  it('keeps a name Omnisend accepts as it is', () => {
    expect(omnisendTagName('VIP customers_2024 - EU')).toBe('VIP customers_2024 - EU');
  });

  it.each([
    ['Café & Bar', /^Cafe - Bar-[0-9a-f]{6}$/],
    ['Ünïcödé', /^Unicode-[0-9a-f]{6}$/],
    ['日本の顧客', /^segment-[0-9a-f]{6}$/],
    ['x'.repeat(200), /^x{121}-[0-9a-f]{6}$/],
  ])('maps %j onto the alphabet', (name, expected) => {
    expect(omnisendTagName(name)).toMatch(expected);
  });

  it('maps every name into the alphabet, the same way each time, and keeps names that differ apart', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }), fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }), (a, b) => {
        expect(omnisendTagName(a)).toMatch(OMNISEND_TAG_PATTERN);
        expect(omnisendTagName(a)).toBe(omnisendTagName(a));
        expect(omnisendTagName(omnisendTagName(a))).toBe(omnisendTagName(a));
        if (a !== b && !OMNISEND_TAG_PATTERN.test(a) && !OMNISEND_TAG_PATTERN.test(b)) expect(omnisendTagName(a)).not.toBe(omnisendTagName(b));
      }),
      { numRuns: 300 },
    );
  });
});

describe('Omnisend phones in E.164', () => {
  it.each([
    ['+44 7911 123456', undefined, '+447911123456'],
    ['07911 123456', 'GB', '+447911123456'],
    ['07911 123456', 'gb', '+447911123456'],
    ['06 12 34 56 78', 'France', '+33612345678'],
    ['(415) 555-2671', 'United States', '+14155552671'],
    ['0044 7911 123456', 'GB', '+447911123456'],
  ])('makes %j (country %j) %s', (phone, country, expected) => {
    expect(toE164(phone, country)).toEqual({ ok: true, phone: expected });
  });

  it.each([
    ['06 12 34 56 78', undefined, /no mapped country/],
    ['12345', 'FR', /not a valid international number/],
    ['+447700900123', undefined, /not a valid/],
    ['call me', 'GB', /not a valid/],
  ])('refuses %j (country %j)', (phone, country, reason) => {
    const checked = toE164(phone, country);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.reason).toMatch(reason);
  });

  it('reads a mapped country as an ISO code or an English name', () => {
    expect(countryCodeOf('de')).toBe('DE');
    expect(countryCodeOf('Germany')).toBe('DE');
    expect(countryCodeOf('Atlantis')).toBeUndefined();
    expect(countryCodeOf('ZZ')).toBeUndefined();
  });
});
