/**
 * Synthetic customer profiles for demos, benchmarks and tests: realistic names (unicode
 * included), emails, phones, addresses, cities with their country codes and postal codes, plus a
 * small share of invalid and of duplicate emails (some differing only in case), as real segments
 * have. Deterministic: record `i` depends only on the seed and `i`, so a "changed" variant
 * (`changedShare`) shares every other record with the base segment — some members leave, some
 * join, some have changed fields — which is what a delta run needs.
 */
export const PROFILE_FIELDS = [
  'CustomerId',
  'Email',
  'FirstName',
  'LastName',
  'Phone',
  'Address',
  'City',
  'CountryCode',
  'PostalCode',
] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];
export type GeneratedProfile = Record<ProfileField, string>;

export interface GenerateProfilesOptions {
  /** Profiles in the base segment. */
  count: number;
  seed?: number;
  /** Share of profiles whose email is malformed or missing. */
  invalidShare?: number;
  /** Share of profiles whose email repeats an earlier profile's (half of them in another case). */
  duplicateShare?: number;
  /**
   * Share of the base segment that differs in this variant: a third leave, a third change
   * fields (address, phone or last name), and as many new profiles as leavers join at the end.
   */
  changedShare?: number;
}

export const DEFAULT_INVALID_SHARE = 0.01;
export const DEFAULT_DUPLICATE_SHARE = 0.01;

const FIRST_NAMES = [
  'Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Zoë', 'José', 'François', 'Søren', 'Łukasz', 'Björn', 'Chloé', 'Ana',
  'Ivan', 'Mei', 'Hiroshi', 'Aisha', 'Omar', 'Priya', 'Raj', 'Olga', 'Jürgen', 'Emma', 'Noah', 'Liam', 'Olivia', 'Mia',
  'Lucas', 'Sofia', 'Mateo', 'Hannah', 'Elif', 'Yusuf', 'Fatima', 'Kai', 'Léa', 'Nils', 'Ingrid', 'Siobhán', 'Seán',
  'Zoltán', 'Chiara', 'Giulia', 'Marek', 'Agnieszka', 'Thandiwe', 'Kwame', 'Ngozi', 'Sven', 'Astrid',
];
const LAST_NAMES = [
  'Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Müller', 'Schmidt', 'García', 'Martínez', 'Dubois',
  'Lefèvre', 'Kowalski', 'Nowak', 'Johansson', 'Nielsen', "O'Brien", 'Rossi', 'Bianchi', 'Silva', 'Santos', 'Tanaka',
  'Suzuki', 'Kim', 'Lee', 'Nguyen', 'Smith', 'Jones', 'Brown', 'Novák', 'Horváth', 'Popescu', 'Ivanova', 'Öztürk',
  'Yılmaz', 'Jensen', 'Andersson', 'Virtanen', 'Papadopoulos', 'Cohen', 'Khan', 'Singh', 'Okafor', 'Mensah',
  'Van der Berg', 'Da Costa', 'Łaski', 'Sørensen', 'Weiß', 'Ó Súilleabháin', 'Zhang',
];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'post.example.org', 'inbox.example.net'];
const STREETS = [
  'Main Street', 'High Street', 'Baker Street', 'Hauptstraße', 'Rue de Rivoli', 'Calle Mayor', 'Via Roma', 'Elm Avenue',
  'Oak Lane', 'Kungsgatan', 'Ulica Długa', 'Rua Augusta', 'Mill Road', 'Station Road', 'Church Lane', 'Bahnhofstraße',
];

interface City {
  city: string;
  countryCode: string;
  /** `#` a digit, `A` a capital letter. */
  postal: string;
  /** The country and area code. */
  phone: string;
  /** Digits after the area code, so that the number is a valid one there. */
  subscriber: number;
  /** The digits a number may start with after the area code (default 2-9). */
  lead?: string;
}

const CITIES: readonly City[] = [
  { city: 'Berlin', countryCode: 'DE', postal: '1####', phone: '+49 30', subscriber: 8 },
  { city: 'München', countryCode: 'DE', postal: '8####', phone: '+49 89', subscriber: 8 },
  { city: 'Köln', countryCode: 'DE', postal: '5####', phone: '+49 221', subscriber: 7 },
  { city: 'Paris', countryCode: 'FR', postal: '750##', phone: '+33 1', subscriber: 8 },
  { city: 'Lyon', countryCode: 'FR', postal: '6900#', phone: '+33 4', subscriber: 8 },
  { city: 'London', countryCode: 'GB', postal: 'SW# #AA', phone: '+44 20', subscriber: 8, lead: '378' },
  { city: 'Manchester', countryCode: 'GB', postal: 'M# #AA', phone: '+44 161', subscriber: 7 },
  { city: 'New York', countryCode: 'US', postal: '100##', phone: '+1 212', subscriber: 7 },
  { city: 'San Francisco', countryCode: 'US', postal: '941##', phone: '+1 415', subscriber: 7 },
  { city: 'Chicago', countryCode: 'US', postal: '606##', phone: '+1 312', subscriber: 7 },
  { city: 'São Paulo', countryCode: 'BR', postal: '0####-###', phone: '+55 11', subscriber: 8 },
  { city: 'Zürich', countryCode: 'CH', postal: '80##', phone: '+41 44', subscriber: 7 },
  { city: 'Wien', countryCode: 'AT', postal: '1###', phone: '+43 1', subscriber: 7 },
  { city: 'Amsterdam', countryCode: 'NL', postal: '10## AA', phone: '+31 20', subscriber: 7 },
  { city: 'Madrid', countryCode: 'ES', postal: '280##', phone: '+34 91', subscriber: 7 },
  { city: 'Kraków', countryCode: 'PL', postal: '3#-###', phone: '+48 12', subscriber: 7 },
  { city: 'Stockholm', countryCode: 'SE', postal: '1## ##', phone: '+46 8', subscriber: 7 },
  { city: 'København', countryCode: 'DK', postal: '1###', phone: '+45 3', subscriber: 7 },
  { city: 'Tokyo', countryCode: 'JP', postal: '1##-####', phone: '+81 3', subscriber: 8 },
  { city: 'Sydney', countryCode: 'AU', postal: '2###', phone: '+61 2', subscriber: 8, lead: '89' },
  { city: 'Toronto', countryCode: 'CA', postal: 'M#A #A#', phone: '+1 416', subscriber: 7 },
  { city: 'Dublin', countryCode: 'IE', postal: 'D0# A#A#', phone: '+353 1', subscriber: 7 },
];

const SPECIAL_LETTERS: Readonly<Record<string, string>> = { ł: 'l', ø: 'o', ß: 'ss', ı: 'i', đ: 'd', æ: 'ae', œ: 'oe' };

/** Lower-case ASCII for an email's local part: accents dropped, spaces and apostrophes removed. */
function emailPart(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[łøßıđæœ]/g, (letter) => SPECIAL_LETTERS[letter] ?? '')
    .replace(/[^a-z0-9]/g, '');
}

const FIRST_EMAIL = FIRST_NAMES.map(emailPart);
const LAST_EMAIL = LAST_NAMES.map(emailPart);

/** mulberry32: small, fast and good enough for synthetic data. */
class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  digits(count: number): string {
    let text = '';
    for (let i = 0; i < count; i++) text += String(this.int(10));
    return text;
  }
}

function leadDigit(city: City, random: Random): string {
  const lead = city.lead ?? '23456789';
  return lead[random.int(lead.length)]!;
}

/** A well-mixed 32-bit seed for record `index` of stream `seed`. */
function mix(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const CHANGE_STREAM = 0x5bd1e995;

interface Resolved {
  count: number;
  seed: number;
  invalidShare: number;
  duplicateShare: number;
  changedShare: number;
}

function resolve(options: GenerateProfilesOptions): Resolved {
  const share = (name: string, value: number | undefined, fallback: number): number => {
    const resolved = value ?? fallback;
    if (!(resolved >= 0 && resolved <= 1)) throw new RangeError(`${name} is a share between 0 and 1, not ${resolved}`);
    return resolved;
  };
  if (!Number.isSafeInteger(options.count) || options.count < 0) throw new RangeError(`count must be a whole number >= 0, not ${options.count}`);
  return {
    count: options.count,
    seed: options.seed ?? 1,
    invalidShare: share('invalidShare', options.invalidShare, DEFAULT_INVALID_SHARE),
    duplicateShare: share('duplicateShare', options.duplicateShare, DEFAULT_DUPLICATE_SHARE),
    changedShare: share('changedShare', options.changedShare, 0),
  };
}

const enum Kind {
  Normal,
  Invalid,
  Duplicate,
}

function kindOf(random: Random, options: Resolved): Kind {
  const draw = random.next();
  if (draw < options.invalidShare) return Kind.Invalid;
  if (draw < options.invalidShare + options.duplicateShare) return Kind.Duplicate;
  return Kind.Normal;
}

/** The email record `index` has when it is a normal profile. */
function validEmail(index: number, first: number, last: number, domain: number): string {
  return `${FIRST_EMAIL[first]}.${LAST_EMAIL[last]}${index + 1}@${DOMAINS[domain]}`;
}

/** The valid email of the nearest normal profile before `index` (undefined when there is none). */
function earlierEmail(index: number, random: Random, options: Resolved): string | undefined {
  for (let j = index - 1 - random.int(Math.min(index, 1_000)); j >= 0; j--) {
    const other = new Random(mix(options.seed, j));
    if (kindOf(other, options) !== Kind.Normal) continue;
    return validEmail(j, other.int(FIRST_NAMES.length), other.int(LAST_NAMES.length), other.int(DOMAINS.length));
  }
  return undefined;
}

function postalCode(pattern: string, random: Random): string {
  let code = '';
  for (const char of pattern) {
    if (char === '#') code += String(random.int(10));
    else if (char === 'A') code += String.fromCharCode(65 + random.int(26));
    else code += char;
  }
  return code;
}

function address(random: Random): string {
  const street = `${1 + random.int(220)} ${STREETS[random.int(STREETS.length)]}`;
  const extra = random.next();
  // Commas and quotes inside values: what makes CSV quoting matter.
  if (extra < 0.1) return `${street}, Apt ${1 + random.int(40)}`;
  if (extra < 0.11) return `"The Old Mill", ${street}`;
  return street;
}

/** Profile `index` of the base segment. */
function baseProfile(index: number, options: Resolved): GeneratedProfile {
  const random = new Random(mix(options.seed, index));
  const kind = kindOf(random, options);
  const first = random.int(FIRST_NAMES.length);
  const last = random.int(LAST_NAMES.length);
  const domain = random.int(DOMAINS.length);
  const city = CITIES[random.int(CITIES.length)]!;
  let email = validEmail(index, first, last, domain);
  if (kind === Kind.Invalid) email = invalidEmail(email, random);
  else if (kind === Kind.Duplicate) {
    const earlier = earlierEmail(index, random, options);
    if (earlier !== undefined) email = random.next() < 0.5 ? earlier : earlier.toUpperCase();
  }
  return {
    CustomerId: `C${String(index + 1).padStart(8, '0')}`,
    Email: email,
    FirstName: FIRST_NAMES[first]!,
    LastName: LAST_NAMES[last]!,
    Phone: `${city.phone} ${leadDigit(city, random)}${random.digits(city.subscriber - 1)}`,
    Address: address(random),
    City: city.city,
    CountryCode: city.countryCode,
    PostalCode: postalCode(city.postal, random),
  };
}

function invalidEmail(valid: string, random: Random): string {
  const [local = '', domain = ''] = valid.split('@');
  switch (random.int(6)) {
    case 0:
      return local;
    case 1:
      return `${local}@`;
    case 2:
      return `@${domain}`;
    case 3:
      return `${local.replace('.', ' ')}@${domain}`;
    case 4:
      return `${local}@@${domain}`;
    default:
      return '';
  }
}

/** The same person after a move, a new phone or a new last name. */
function changed(profile: GeneratedProfile, random: Random): GeneratedProfile {
  switch (random.int(3)) {
    case 0: {
      const city = CITIES[random.int(CITIES.length)]!;
      return { ...profile, Address: address(random), City: city.city, CountryCode: city.countryCode, PostalCode: postalCode(city.postal, random) };
    }
    case 1:
      return { ...profile, Phone: `${profile.Phone.split(' ').slice(0, 2).join(' ')} ${random.digits(7)}` };
    default:
      return { ...profile, LastName: LAST_NAMES[random.int(LAST_NAMES.length)]! };
  }
}

/** How many profiles `generateProfiles` yields for these options. */
export function generatedProfileCount(options: GenerateProfilesOptions): number {
  const resolved = resolve(options);
  if (resolved.changedShare === 0) return resolved.count;
  let count = 0;
  for (let index = 0; index < resolved.count; index++) if (changeOf(index, resolved).kind !== 'leaver') count++;
  return count + joinerCount(resolved);
}

function joinerCount(options: Resolved): number {
  return Math.round((options.count * options.changedShare) / 3);
}

function changeOf(index: number, options: Resolved): { kind: 'leaver' | 'changed' | 'same'; random: Random } {
  const random = new Random(mix(options.seed ^ CHANGE_STREAM, index));
  const draw = random.next();
  const third = options.changedShare / 3;
  return { kind: draw < third ? 'leaver' : draw < 2 * third ? 'changed' : 'same', random };
}

/** The profiles, one by one, in segment order (joiners last). */
export function* generateProfiles(options: GenerateProfilesOptions): Generator<GeneratedProfile, void, undefined> {
  const resolved = resolve(options);
  for (let index = 0; index < resolved.count; index++) {
    if (resolved.changedShare === 0) {
      yield baseProfile(index, resolved);
      continue;
    }
    const change = changeOf(index, resolved);
    if (change.kind === 'leaver') continue;
    const profile = baseProfile(index, resolved);
    yield change.kind === 'changed' ? changed(profile, change.random) : profile;
  }
  const joiners = resolved.changedShare === 0 ? 0 : joinerCount(resolved);
  for (let index = resolved.count; index < resolved.count + joiners; index++) yield baseProfile(index, resolved);
}

const ROWS_PER_CHUNK = 2_000;

/** The profiles as CSV (header row, comma-separated, RFC 4180 quoting), in chunks of UTF-8. */
export async function* generateProfilesCsv(options: GenerateProfilesOptions): AsyncGenerator<Buffer, void, undefined> {
  let text = `${PROFILE_FIELDS.join(',')}\n`;
  let rows = 0;
  for (const profile of generateProfiles(options)) {
    text += `${csvField(profile.CustomerId)},${csvField(profile.Email)},${csvField(profile.FirstName)},${csvField(profile.LastName)},${csvField(profile.Phone)},${csvField(profile.Address)},${csvField(profile.City)},${profile.CountryCode},${csvField(profile.PostalCode)}\n`;
    if (++rows === ROWS_PER_CHUNK) {
      yield Buffer.from(text, 'utf8');
      text = '';
      rows = 0;
    }
  }
  if (text !== '') yield Buffer.from(text, 'utf8');
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
