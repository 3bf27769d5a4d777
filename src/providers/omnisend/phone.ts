// Omnisend identifiers must be E.164 (`+15551234567`): a phone that is not makes Omnisend refuse
// the whole contact. A mapped phone is normalised here, with the record's mapped country (an ISO
// code, or a country name in English) for a national number; one that cannot be made E.164 is
// left out of the contact, which is sent with its email all the same, and noted as a reject row.
import { getCountries, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/min';

export type PhoneCheck = { ok: true; phone: string } | { ok: false; reason: string };

let countriesByName: Map<string, CountryCode> | undefined;
/** The ISO codes libphonenumber knows, as a set: `getCountries()` builds its array anew on every call (2.9% of the app's CPU in a 1M-profile Omnisend run). */
let knownCodes: ReadonlySet<string> | undefined;

/** The ISO 3166 code of a mapped country: `GB`, `gb`, `United Kingdom`, `france`. */
export function countryCodeOf(countryRegion: string | undefined): CountryCode | undefined {
  const value = countryRegion?.trim();
  if (!value) return undefined;
  knownCodes ??= new Set(getCountries());
  const upper = value.toUpperCase();
  if (/^[A-Z]{2}$/.test(upper)) return knownCodes.has(upper) ? (upper as CountryCode) : undefined;
  if (!countriesByName) {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    countriesByName = new Map(getCountries().map((code) => [(names.of(code) ?? code).toLowerCase(), code]));
  }
  return countriesByName.get(value.toLowerCase());
}

/**
 * Answers already given, by phone and country: a chunk's records are checked when their batch is
 * encoded and again when the chunk's notes are written (and again when a refused chunk is split),
 * and parsing costs tens of microseconds. Bounded: emptied when full.
 */
const checked = new Map<string, PhoneCheck>();
const MAX_CHECKED = 4_096;

/** The phone as E.164, or why it cannot be. */
export function toE164(phone: string, countryRegion: string | undefined): PhoneCheck {
  const key = `${phone}\u0000${countryRegion ?? ''}`;
  const known = checked.get(key);
  if (known) return known;
  const answer = checkPhone(phone, countryRegion);
  if (checked.size >= MAX_CHECKED) checked.clear();
  checked.set(key, answer);
  return answer;
}

function checkPhone(phone: string, countryRegion: string | undefined): PhoneCheck {
  const country = countryCodeOf(countryRegion);
  const parsed = parsePhoneNumberFromString(phone.trim(), country === undefined ? undefined : { defaultCountry: country });
  if (parsed?.isValid()) return { ok: true, phone: parsed.number };
  const hint = country === undefined && !phone.trim().startsWith('+') ? ' (no country code, and no mapped country to read it by)' : '';
  return { ok: false, reason: `The phone number is not a valid international number${hint}: the contact was sent without it` };
}
