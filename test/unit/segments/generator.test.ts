import { describe, expect, it } from 'vitest';
import { DEFAULT_SEGMENT_LIMITS } from '../../../src/domain/segment';
import {
  generatedProfileCount,
  generateProfiles,
  generateProfilesCsv,
  PROFILE_FIELDS,
  type GeneratedProfile,
} from '../../../dev/generator';
import { toE164 } from '../../../src/providers/omnisend/phone';
import { createUploadDecoder } from '../../../src/segments/upload-decoder';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const all = (options: Parameters<typeof generateProfiles>[0]) => [...generateProfiles(options)];

describe('generateProfiles', () => {
  it('is deterministic by seed', () => {
    expect(all({ count: 50, seed: 7 })).toEqual(all({ count: 50, seed: 7 }));
    expect(all({ count: 50, seed: 7 })).not.toEqual(all({ count: 50, seed: 8 }));
  });

  it('yields unique customer ids and every field, unicode names included', () => {
    const profiles = all({ count: 5_000, seed: 1 });
    expect(profiles).toHaveLength(5_000);
    expect(new Set(profiles.map((profile) => profile.CustomerId)).size).toBe(5_000);
    for (const profile of profiles) expect(Object.keys(profile)).toEqual([...PROFILE_FIELDS]);
    expect(profiles.some((profile) => /[^ -~]/.test(profile.FirstName + profile.LastName + profile.City))).toBe(true);
    expect(profiles.some((profile) => profile.Address.includes(','))).toBe(true);
    expect(profiles.every((profile) => /^[A-Z]{2}$/.test(profile.CountryCode))).toBe(true);
  });

  it('gives every profile a phone number that is valid in its country, as real customer data mostly has', () => {
    const invalid = all({ count: 5_000, seed: 3 }).filter((profile) => !toE164(profile.Phone, profile.CountryCode).ok);
    expect(invalid.map((profile) => `${profile.City}: ${profile.Phone}`)).toEqual([]);
  });

  it('makes about the requested shares of invalid and duplicate emails', () => {
    const profiles = all({ count: 20_000, seed: 3, invalidShare: 0.02, duplicateShare: 0.03 });
    const invalid = profiles.filter((profile) => !EMAIL.test(profile.Email)).length;
    const seen = new Set<string>();
    let duplicates = 0;
    for (const { Email } of profiles.filter((profile) => EMAIL.test(profile.Email))) {
      const normalised = Email.toLowerCase();
      if (seen.has(normalised)) duplicates++;
      seen.add(normalised);
    }
    expect(invalid / 20_000).toBeCloseTo(0.02, 2);
    expect(duplicates / 20_000).toBeCloseTo(0.03, 2);
    expect(all({ count: 2_000, invalidShare: 0, duplicateShare: 0 }).every((profile) => EMAIL.test(profile.Email))).toBe(true);
  });

  it('makes a changed variant: some leave, some change, as many join, the rest stay identical', () => {
    const base = new Map(all({ count: 30_000, seed: 5 }).map((profile) => [profile.CustomerId, profile]));
    const variant = all({ count: 30_000, seed: 5, changedShare: 0.03 });
    const variantIds = new Set(variant.map((profile) => profile.CustomerId));
    const leavers = [...base.keys()].filter((id) => !variantIds.has(id)).length;
    const joiners = variant.filter((profile) => !base.has(profile.CustomerId));
    const changed = variant.filter((profile) => base.has(profile.CustomerId) && !sameProfile(profile, base.get(profile.CustomerId)!));

    expect(joiners).toHaveLength(300);
    expect(joiners[0]!.CustomerId).toBe('C00030001');
    expect(leavers / 30_000).toBeCloseTo(0.01, 2);
    expect(changed.length / 30_000).toBeCloseTo(0.01, 2);
    expect(changed.every((profile) => profile.Email === base.get(profile.CustomerId)!.Email)).toBe(true);
    expect(generatedProfileCount({ count: 30_000, seed: 5, changedShare: 0.03 })).toBe(variant.length);
  });

  it('refuses shares outside 0..1 and a negative count', () => {
    expect(() => all({ count: 1, invalidShare: 2 })).toThrow(/invalidShare/);
    expect(() => all({ count: -1 })).toThrow(/count/);
  });
});

describe('generateProfilesCsv', () => {
  it('writes CSV that the ingestion parser reads back into the same profiles', async () => {
    const options = { count: 3_000, seed: 11 };
    const decoder = createUploadDecoder('csv', { limits: DEFAULT_SEGMENT_LIMITS });
    const rows: string[][] = [];
    for await (const chunk of generateProfilesCsv(options)) rows.push(...decoder.push(chunk.toString('utf8')).rows);
    rows.push(...decoder.end().rows);

    expect(decoder.fields).toEqual([...PROFILE_FIELDS]);
    expect(decoder.fields[decoder.keyIndex]).toBe('CustomerId');
    expect(rows).toEqual(all(options).map((profile) => PROFILE_FIELDS.map((field) => profile[field])));
  });
});

function sameProfile(a: GeneratedProfile, b: GeneratedProfile): boolean {
  return PROFILE_FIELDS.every((field) => a[field] === b[field]);
}
