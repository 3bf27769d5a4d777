import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { BaseEmulator } from './kit/base';
import { emailKey } from './kit/email';
import { resolveCommonOptions, type CommonEmulatorOptions, type ResolvedCommonOptions } from './kit/options';
import type { RateLimit } from './kit/rate-limits';
import type { ProviderProtocol, Reply, RequestContext, Route } from './kit/server';
import { describeIssues, fieldIssues, type FieldIssue } from './kit/validation';
import { ContactStore, TagStore, type OmnisendStatus } from './omnisend-contacts';
import { listContacts, type ContactIndex } from './omnisend-listing';
import { PhoneStore } from './omnisend-phones';

export type { OmnisendContact, OmnisendStatus } from './omnisend-contacts';
export { ContactStore, TagStore } from './omnisend-contacts';
export { PhoneStore, type OmnisendPhone } from './omnisend-phones';

export interface OmnisendEmulatorOptions extends CommonEmulatorOptions {
  /** Bucket `brand` (every request): default 400 per sliding minute. */
  brandRateLimit?: RateLimit;
  /** Bucket `tags` (`/api/contacts/tags`, counted in `brand` too): default 60 per sliding minute. */
  tagsRateLimit?: RateLimit;
  maxBatchItems?: number;
  maxTagEmails?: number;
  /**
   * The supported `Omnisend-Version` (default `2026-03-15`). As documented, a later date resolves
   * to it (the nearest earlier supported version); an earlier date, or `2026-preview`, is retired (410).
   */
  apiVersion?: string;
  /** Put `retryAfter` (seconds) in 429 problems: default true. */
  retryAfterInProblem?: boolean;
  /**
   * Whether an upsert whose identifier names a channel status replaces an existing contact's status
   * (email and SMS). Undocumented; default true, the unsafe case.
   */
  upsertOverwritesStatus?: boolean;
  /**
   * The status a contact (or a phone) created without `channels` gets. Undocumented; default
   * `subscribed`, the unsafe case: a client must name `nonSubscribed` for contacts Omnisend lacks.
   */
  newContactStatus?: OmnisendStatus;
  /**
   * Whether a failed batch item carries the `request` it answers (default true). Unconfirmed
   * either way: false imitates items that cannot be matched to a contact.
   */
  echoFailedItemRequests?: boolean;
  /** Finished batches kept for `GET /api/batches/*`: default 20,000 (oldest forgotten first). */
  maxRetainedBatches?: number;
  /** Default 2 MiB (unconfirmed: Omnisend recommends batch bodies of at most 1 MB and documents no hard limit). */
  maxBodyBytes?: number;
}

export interface OmnisendSeedContact {
  email: string;
  /** The email channel status. */
  status: OmnisendStatus;
  /** A phone identifier (E.164); its SMS status is `smsStatus`, or `status` when unset. */
  phone?: string;
  smsStatus?: OmnisendStatus;
  tags?: readonly string[];
  fields?: Record<string, unknown>;
}

export type OmnisendBatchStatus = 'pending' | 'inProgress' | 'finished' | 'stopped';

export interface OmnisendBatch {
  batchID: string;
  method: 'POST';
  endpoint: 'contacts';
  status: 'pending' | 'finished' | 'stopped';
  createdAt: number;
  /** Epoch ms from which a pending batch reports `inProgress`. */
  inProgressAt: number;
  endedAt?: number;
  totalCount: number;
  errorsCount: number;
  /** Per item, in submission order, once finished: the contact's serial (0: none) and the response code. */
  itemSerials?: Uint32Array;
  itemCodes?: Uint16Array;
  /** Failed items: index -> the item as submitted and the problem answered. */
  failures?: Map<number, { request: unknown; response: unknown }>;
}

export interface OmnisendState {
  /** Lower-cased email -> contact (read like a Map: `size`, `get`, `has`, iteration). */
  contacts: ContactStore;
  /** Tag -> contacts (`members(tag)`, `has(tag, email)`, `sizes()`). */
  tags: TagStore;
  /** Contact serial -> its phone identifier and SMS status. */
  phones: PhoneStore;
  batches: Map<string, OmnisendBatch>;
  counters: {
    /** Phone identifiers ignored because another contact holds them. */
    ignoredPhones: number;
    /** Identifiers that asked for (or defaulted to) a welcome message: must stay 0. */
    welcomeMessages: number;
    /** Upserts that changed an existing contact's subscription status (email or SMS): must stay 0. */
    statusChanges: number;
    /** Identifiers of new contacts (and new phones) created without a status: they got `newContactStatus`. */
    defaultedStatuses: number;
    /** Contacts created `subscribed`. */
    subscribedContacts: number;
    /** Tag requests' emails with no contact (ignored, like Omnisend does). */
    ignoredTagEmails: number;
    created: number;
    updated: number;
    rejectedItems: number;
  };
}

const MiB = 1024 * 1024;
const PROBLEM_BASE = 'https://problems.omnisend.com/';
/**
 * The problem types Omnisend publishes; any other answer uses RFC 9457's `about:blank` (the type
 * of a problem that says no more than its HTTP status) rather than a type we would invent.
 */
const PUBLISHED_PROBLEM_TYPES: ReadonlySet<string> = new Set(['not-found', 'validation-failed', 'rate-limit-exceeded']);
/** What Omnisend's own SDK accepts as a tag name. */
const TAG_NAME = /^[a-zA-Z0-9_\- ]{1,128}$/;
/** An E.164 phone number. */
const E164 = /^\+[1-9]\d{6,14}$/;
const PROBLEM_TYPE = 'application/problem+json; charset=utf-8';
const STATUSES = ['subscribed', 'unsubscribed', 'nonSubscribed'] as const;
/** Contact fields our adapter may send; the rest of the API's fields break the contract. */
const CONTACT_FIELD_SHAPE = {
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  address: z.string().optional(),
  city: z.string().optional(),
  state: z.string().optional(),
  postalCode: z.string().optional(),
  country: z.string().optional(),
  countryCode: z.string().optional(),
};
const CONTACT_FIELDS = Object.keys(CONTACT_FIELD_SHAPE) as Array<keyof typeof CONTACT_FIELD_SHAPE>;
const PHONE_FIELD_MESSAGE =
  'phone is not a contact field in API 2026-03-15: send it as an identifier {"type":"phone","id":"+15551234567","channels":{"sms":{"status":"nonSubscribed"}},"sendWelcomeMessage":false}';

function problem(status: number, type: string, title: string, detail: string, extra: Record<string, unknown> = {}): Reply {
  return {
    status,
    contentType: PROBLEM_TYPE,
    body: {
      type: PUBLISHED_PROBLEM_TYPES.has(type) ? PROBLEM_BASE + type : 'about:blank',
      title,
      status,
      detail,
      instance: `urn:omnisend:request:${randomUUID()}`,
      ...extra,
    },
  };
}

function validationProblem(errors: FieldIssue[]): Reply {
  return problem(400, 'validation-failed', 'Validation failed', describeIssues(errors), { errors });
}

function contactSchema(strict: boolean) {
  const object = strict ? z.strictObject : z.looseObject;
  const channel = object({ status: strict ? z.enum(STATUSES) : z.enum(STATUSES).optional(), statusChangedAt: z.string().optional() });
  const welcome = strict ? z.boolean() : z.boolean().optional();
  const emailIdentifier = object({
    type: z.literal('email'),
    id: z.string(),
    // Only `id` and `type` are required (ContactIdentifierRequest); a channel named needs its status.
    channels: (strict ? object({ email: channel }) : object({ email: channel.optional() })).optional(),
    sendWelcomeMessage: welcome,
    source: z.string().optional(),
  });
  const phoneIdentifier = object({
    type: z.literal('phone'),
    // Identifiers must be E.164: a phone that is not makes Omnisend refuse the whole contact.
    id: z.string().regex(E164, 'Must be a phone number in E.164 format'),
    channels: (strict ? object({ sms: channel }) : object({ sms: channel.optional() })).optional(),
    sendWelcomeMessage: welcome,
    source: z.string().optional(),
  });
  return object({
    identifiers: z
      .array(z.discriminatedUnion('type', [emailIdentifier, phoneIdentifier]))
      .min(1)
      .refine((identifiers) => identifiers.some((identifier) => identifier.type === 'email'), 'needs an email identifier'),
    ...CONTACT_FIELD_SHAPE,
    // A natural mistake, named precisely: the published ContactRequest has no `phone` field.
    ...(strict ? { phone: z.never({ error: PHONE_FIELD_MESSAGE }).optional() } : {}),
  });
}

type ContactItem = z.infer<ReturnType<typeof contactSchema>>;
type ItemOutcome = { serial: number; code: number; errors?: FieldIssue[] };

function schemas(strict: boolean, maxBatchItems: number, maxTagEmails: number) {
  const object = strict ? z.strictObject : z.looseObject;
  // **contract**: the tag names Omnisend's own SDK accepts.
  const tagList = z.array(strict ? z.string().regex(TAG_NAME, 'tag names are [a-zA-Z0-9_\\- ]{1,128}') : z.string().min(1)).min(1).max(100);
  return {
    contact: contactSchema(strict),
    batch: object({
      method: z.literal('POST'),
      endpoint: z.literal('contacts'),
      items: z.array(z.unknown()).min(1).max(maxBatchItems),
      origin: z.string().optional(),
    }),
    tags: strict
      ? z.strictObject({ tags: tagList, emails: z.array(z.string()).min(1).max(maxTagEmails) })
      : z.looseObject({ tags: tagList, emails: z.array(z.string()).max(maxTagEmails).optional() }),
    listBatches: z.object({
      endpoint: z.string().optional(),
      status: z.enum(['pending', 'inProgress', 'finished', 'stopped']).optional(),
      limit: z.coerce.number().int().min(1).max(250).default(100),
    }),
  };
}

function protocol(apiVersion: string, retryAfterInProblem: boolean): ProviderProtocol {
  return {
    readCredential: (headers: IncomingHttpHeaders) => {
      const value = headers.authorization;
      const prefix = 'Omnisend-API-Key ';
      return typeof value === 'string' && value.startsWith(prefix) ? value.slice(prefix.length) : undefined;
    },
    precheck: (headers) => {
      const version = headers['omnisend-version'];
      // Unconfirmed: the answer to a missing header is not documented.
      if (version === undefined) return problem(400, 'version-required', 'Bad Request', 'The Omnisend-Version header is required');
      if (!resolvesTo(String(version), apiVersion)) {
        return problem(410, 'version-retired', 'API version has been retired', `API version ${String(version)} is not available`);
      }
      return undefined;
    },
    unauthorized: () => problem(401, 'unauthorized', 'Unauthorized', 'Authentication is missing or invalid'),
    notFound: () => problem(404, 'not-found', 'Not found', 'The requested resource was not found'),
    rateLimited: (retryAfterMs) =>
      problem(
        429,
        'rate-limit-exceeded',
        'Rate limit exceeded',
        'Too many requests',
        retryAfterInProblem ? { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) } : {},
      ),
    serverError: (status) =>
      status === 503
        ? problem(503, 'service-unavailable', 'Service unavailable', 'Service temporarily unavailable')
        : problem(500, 'internal-error', 'Internal server error', 'Unexpected error occurred'),
    badJson: (message) => validationProblem([{ field: '', code: 'invalid_json', message }]),
    unsupportedMediaType: () => problem(415, 'unsupported-media-type', 'Unsupported media type', 'Content-Type must be application/json'),
    tooLarge: (limitBytes) => problem(413, 'payload-too-large', 'Payload too large', `The request body is larger than ${limitBytes} bytes`),
    rateScope: () => 'account',
  };
}

/** A date version resolves to the nearest earlier supported one: here, any date from the supported version on. */
function resolvesTo(version: string, supported: string): boolean {
  if (version === supported) return true;
  return /^\d{4}-\d{2}-\d{2}$/.test(version) && !Number.isNaN(Date.parse(version)) && version > supported;
}

function contactID(serial: number): string {
  return serial.toString(16).padStart(24, '0');
}

/** Omnisend's batches, contacts and tags endpoints (`/api`, version 2026-03-15), see README.md. */
export class OmnisendEmulator extends BaseEmulator {
  readonly provider = 'omnisend' as const;
  readonly state: OmnisendState;
  private readonly common: ResolvedCommonOptions;
  private readonly schemas: ReturnType<typeof schemas>;
  private readonly looseContact = contactSchema(false);
  private readonly upsertOverwritesStatus: boolean;
  private readonly newContactStatus: OmnisendStatus;
  private readonly maxRetainedBatches: number;
  private readonly echoFailedItemRequests: boolean;

  constructor(options: OmnisendEmulatorOptions = {}) {
    super('/api');
    const contacts = new ContactStore();
    this.state = { contacts, tags: new TagStore(contacts), phones: new PhoneStore(), batches: new Map(), counters: OmnisendEmulator.zeroCounters() };
    this.common = resolveCommonOptions('omnisend', options);
    this.schemas = schemas(this.common.strictContract, options.maxBatchItems ?? 100, options.maxTagEmails ?? 250);
    this.upsertOverwritesStatus = options.upsertOverwritesStatus ?? true;
    this.newContactStatus = options.newContactStatus ?? 'subscribed';
    this.maxRetainedBatches = options.maxRetainedBatches ?? 20_000;
    this.echoFailedItemRequests = options.echoFailedItemRequests ?? true;
    const brand = ['brand'];
    const tags = ['brand', 'tags'];
    const routes: Route[] = [
      { method: 'GET', path: '/api/contacts', buckets: brand, handle: (context) => this.listContactsRoute(context) },
      { method: 'GET', path: '/api/batches', buckets: brand, handle: (context) => this.listBatches(context) },
      { method: 'POST', path: '/api/batches', buckets: brand, hasBody: true, handle: (context) => this.createBatch(context) },
      { method: 'GET', path: '/api/batches/{batchID}', buckets: brand, handle: (context) => this.getBatch(context, false) },
      { method: 'GET', path: '/api/batches/{batchID}/items', buckets: brand, handle: (context) => this.getBatch(context, true) },
      { method: 'POST', path: '/api/contacts/tags', buckets: tags, hasBody: true, handle: (context) => this.changeTags(context, 'add') },
      { method: 'DELETE', path: '/api/contacts/tags', buckets: tags, hasBody: true, handle: (context) => this.changeTags(context, 'remove') },
    ];
    this.setUp({
      options: this.common,
      buckets: [
        { name: 'brand', limits: [options.brandRateLimit ?? { requests: 400, windowMs: 60_000 }] },
        { name: 'tags', limits: [options.tagsRateLimit ?? { requests: 60, windowMs: 60_000 }] },
      ],
      defaultMaxBodyBytes: options.maxBodyBytes ?? 2 * MiB,
      protocol: protocol(options.apiVersion ?? '2026-03-15', options.retryAfterInProblem ?? true),
      routes,
    });
  }

  private static zeroCounters(): OmnisendState['counters'] {
    return {
      welcomeMessages: 0,
      statusChanges: 0,
      defaultedStatuses: 0,
      subscribedContacts: 0,
      ignoredTagEmails: 0,
      created: 0,
      updated: 0,
      rejectedItems: 0,
      ignoredPhones: 0,
    };
  }

  tagMembers(tag: string): string[] {
    return this.state.tags.members(tag);
  }

  /** The contact as `GET /api/contacts` shows it, or undefined. */
  contact(email: string): Record<string, unknown> | undefined {
    const serial = this.state.contacts.serialOf(emailKey(email));
    return serial === undefined ? undefined : this.contactView(serial);
  }

  /**
   * Contacts the brand already has, as if its shop had collected them (tests of what an export must
   * never change): created at once, in order, with their statuses and tags. A contact that exists,
   * or a phone another contact owns, is a test mistake and throws.
   */
  seedContacts(seeds: readonly OmnisendSeedContact[]): void {
    const { contacts, phones, tags } = this.state;
    for (const seed of seeds) {
      const key = emailKey(seed.email);
      if (contacts.has(key)) throw new Error(`Omnisend contact ${key} already exists`);
      if (seed.phone !== undefined && phones.ownerOf(seed.phone) !== undefined) throw new Error(`Omnisend phone ${seed.phone} is taken`);
      const serial = contacts.create(key, seed.status, seed.fields, Date.now());
      if (seed.phone !== undefined) phones.set(serial, seed.phone, seed.smsStatus ?? seed.status);
      for (const tag of seed.tags ?? []) tags.add(tag, serial);
    }
  }

  /** A contact's channel statuses (email, and SMS when it has a phone), or undefined. */
  contactStatuses(email: string): { email: OmnisendStatus; phone?: string; sms?: OmnisendStatus } | undefined {
    const serial = this.state.contacts.serialOf(emailKey(email));
    if (serial === undefined) return undefined;
    const phone = this.state.phones.of(serial);
    const statuses = { email: this.state.contacts.statusOf(serial) };
    return phone ? { ...statuses, phone: phone.phone, sms: phone.status } : statuses;
  }

  protected clearState(): void {
    this.state.contacts.clear();
    this.state.tags.clear();
    this.state.phones.clear();
    this.state.batches.clear();
    this.state.phones.clear();
    this.state.counters = OmnisendEmulator.zeroCounters();
  }

  protected providerSummary(): Record<string, unknown> {
    const batchesByStatus: Record<string, number> = {};
    for (const batch of this.state.batches.values()) {
      const status = this.statusOf(batch);
      batchesByStatus[status] = (batchesByStatus[status] ?? 0) + 1;
    }
    return {
      contacts: this.state.contacts.size,
      tags: this.state.tags.sizes().slice(0, 1000),
      batches: { retained: this.state.batches.size, byStatus: batchesByStatus },
      counters: this.state.counters,
    };
  }

  private contactView(serial: number): Record<string, unknown> {
    const email = this.state.contacts.emailOf(serial);
    const contact = this.state.contacts.get(email);
    if (!contact) return {};
    const phone = this.state.phones.of(serial);
    const identifiers: Array<Record<string, unknown>> = [{ type: 'email', id: email, channels: { email: { status: contact.status } } }];
    if (phone) identifiers.push({ type: 'phone', id: phone.phone, channels: { sms: { status: phone.status } } });
    return {
      id: contactID(serial),
      email,
      status: contact.status,
      identifiers,
      ...(phone ? { phone: [phone.phone] } : {}),
      ...contact.fields,
      tags: this.state.tags.tagsOf(serial),
      createdAt: new Date(contact.createdAt).toISOString(),
      updatedAt: new Date(contact.updatedAt).toISOString(),
    };
  }

  private listContactsRoute(context: RequestContext): Reply {
    const result = listContacts(context.query, this.contactIndex());
    if (result.kind === 'invalid') return validationProblem(result.errors);
    return { status: 200, body: { contacts: result.serials.map((serial) => this.contactView(serial)), paging: result.paging } };
  }

  private contactIndex(): ContactIndex {
    const { contacts, tags, phones } = this.state;
    return {
      count: contacts.size,
      serialOfEmail: (email) => contacts.serialOf(email),
      serialOfPhone: (phone) => phones.ownerOf(phone),
      hasTag: (tag, serial) => tags.serials(tag).has(serial),
      emailStatusOf: (serial) => contacts.statusOf(serial),
      updatedAtOf: (serial) => contacts.get(contacts.emailOf(serial))?.updatedAt ?? 0,
    };
  }

  private createBatch(context: RequestContext): Reply {
    const parsed = this.schemas.batch.safeParse(context.body);
    if (!parsed.success) return validationProblem(fieldIssues(parsed.error));
    const { items } = parsed.data;
    // Strict: every item is checked now and a violation refuses the batch; the items that passed
    // are not checked again when the batch runs. Otherwise each item is checked when it runs.
    let checked: ContactItem[] | undefined;
    if (this.common.strictContract) {
      const errors: FieldIssue[] = [];
      checked = [];
      for (const [index, item] of items.entries()) {
        const result = this.schemas.contact.safeParse(item);
        if (result.success) checked.push(result.data);
        else errors.push(...fieldIssues(result.error, ['items', index]));
      }
      if (errors.length > 0) return validationProblem(errors);
    }
    const now = Date.now();
    const batch: OmnisendBatch = {
      batchID: randomBytes(12).toString('hex'),
      method: 'POST',
      endpoint: 'contacts',
      status: 'pending',
      createdAt: now,
      inProgressAt: now + this.common.asyncDelayMs / 2,
      totalCount: items.length,
      errorsCount: 0,
    };
    this.state.batches.set(batch.batchID, batch);
    this.forgetOldBatches();
    this.server.schedule(this.common.asyncDelayMs, () => this.finishBatch(batch, items, checked));
    return { status: 201, body: { batchID: batch.batchID, totalCount: batch.totalCount } };
  }

  private forgetOldBatches(): void {
    const { batches } = this.state;
    if (batches.size <= this.maxRetainedBatches) return;
    for (const [batchID, batch] of batches) {
      if (batches.size <= this.maxRetainedBatches) break;
      if (batch.status !== 'pending') batches.delete(batchID);
    }
  }

  private finishBatch(batch: OmnisendBatch, items: readonly unknown[], checked: readonly ContactItem[] | undefined): void {
    if (this.state.batches.get(batch.batchID) !== batch) return;
    batch.endedAt = Date.now();
    if (this.server.faults.asyncFails()) {
      batch.status = 'stopped';
      return;
    }
    const serials = new Uint32Array(items.length);
    const codes = new Uint16Array(items.length);
    const failures = new Map<number, { request: unknown; response: unknown }>();
    items.forEach((item, index) => {
      const outcome = this.runItem(item, checked?.[index]);
      serials[index] = outcome.serial;
      codes[index] = outcome.code;
      if (outcome.errors) {
        failures.set(index, { request: item, response: validationProblem(outcome.errors).body });
      }
    });
    batch.itemSerials = serials;
    batch.itemCodes = codes;
    batch.failures = failures;
    batch.errorsCount = failures.size;
    batch.status = 'finished';
    this.state.counters.rejectedItems += failures.size;
  }

  private runItem(item: unknown, checked: ContactItem | undefined): ItemOutcome {
    if (checked) return this.upsert(checked);
    const parsed = this.looseContact.safeParse(item);
    return parsed.success ? this.upsert(parsed.data) : { serial: 0, code: 400, errors: fieldIssues(parsed.error) };
  }

  private upsert(contactItem: ContactItem): ItemOutcome {
    const index = contactItem.identifiers.findIndex((identifier) => identifier.type === 'email');
    const identifier = contactItem.identifiers[index];
    if (!identifier || this.common.isInvalidEmail(identifier.id)) {
      return {
        serial: 0,
        code: 400,
        errors: [{ field: `identifiers[${index}].id`, code: 'invalid_format', message: 'Must be a valid email address' }],
      };
    }
    const key = emailKey(identifier.id);
    const channels = identifier.channels as { email?: { status?: OmnisendStatus } } | undefined;
    const named = channels?.email?.status;
    const counters = this.state.counters;
    for (const each of contactItem.identifiers) if (each.sendWelcomeMessage !== false) counters.welcomeMessages += 1;
    let fields: Record<string, unknown> | undefined;
    if (this.common.retainAttributes) {
      for (const field of CONTACT_FIELDS) {
        if (contactItem[field] !== undefined) (fields ??= {})[field] = contactItem[field];
      }
    }
    const now = Date.now();
    const { contacts } = this.state;
    const existing = contacts.serialOf(key);
    if (existing !== undefined) {
      const emailChanged = contacts.update(existing, this.upsertOverwritesStatus ? named : undefined, fields, now);
      const smsChanged = this.applyPhoneIdentifiers(existing, contactItem, false);
      if (emailChanged || smsChanged) counters.statusChanges += 1;
      counters.updated += 1;
      return { serial: existing, code: 200 };
    }
    if (named === undefined) counters.defaultedStatuses += 1;
    const status = named ?? this.newContactStatus;
    const serial = contacts.create(key, status, fields, now);
    this.applyPhoneIdentifiers(serial, contactItem, true);
    counters.created += 1;
    if (status === 'subscribed') counters.subscribedContacts += 1;
    return { serial, code: 201 };
  }

  /**
   * A contact's phone identifier: a phone another contact owns is ignored (documented); a new phone
   * gets the status named or `newContactStatus`; a known one is overwritten only by a named status.
   * Returns whether an existing SMS status changed.
   */
  private applyPhoneIdentifiers(serial: number, contactItem: ContactItem, created: boolean): boolean {
    const { phones, counters } = this.state;
    let changed = false;
    for (const identifier of contactItem.identifiers) {
      if (identifier.type !== 'phone') continue;
      const named = (identifier.channels as { sms?: { status?: OmnisendStatus } } | undefined)?.sms?.status;
      const owner = phones.ownerOf(identifier.id);
      if (owner !== undefined && owner !== serial) {
        counters.ignoredPhones += 1;
        continue;
      }
      if (owner === serial) {
        if (named !== undefined && this.upsertOverwritesStatus && phones.setStatus(serial, named)) changed = true;
        continue;
      }
      if (named === undefined) counters.defaultedStatuses += 1;
      // A phone added to a contact that had another one: its status is a change of the contact's SMS status.
      const previous = phones.of(serial);
      const status = named ?? this.newContactStatus;
      if (!created && previous !== undefined && previous.status !== status) changed = true;
      phones.set(serial, identifier.id, status);
    }
    return changed;

  }

  /** The contact holding a phone identifier, by email. */
  phoneOwner(phone: string): string | undefined {
    const serial = this.state.phones.ownerOf(phone);
    return serial === undefined ? undefined : this.state.contacts.emailOf(serial);
  }

  private statusOf(batch: OmnisendBatch): OmnisendBatchStatus {
    return batch.status === 'pending' && Date.now() >= batch.inProgressAt ? 'inProgress' : batch.status;
  }

  /** `GET /api/batches?endpoint&status&limit`: the brand's batches, newest first. */
  private listBatches(context: RequestContext): Reply {
    const parsed = this.schemas.listBatches.safeParse(Object.fromEntries(context.query));
    if (!parsed.success) return validationProblem(fieldIssues(parsed.error));
    const { endpoint, status, limit } = parsed.data;
    const batches: Record<string, unknown>[] = [];
    for (const batch of [...this.state.batches.values()].reverse()) {
      if (batches.length === limit) break;
      if ((endpoint !== undefined && batch.endpoint !== endpoint) || (status !== undefined && this.statusOf(batch) !== status)) continue;
      batches.push(this.batchView(batch));
    }
    return { status: 200, body: { batches, paging: { cursors: { after: null, before: null }, limit } } };
  }

  private getBatch(context: RequestContext, withItems: boolean): Reply {
    const batch = this.state.batches.get(context.params[0] ?? '');
    if (!batch) return problem(404, 'not-found', 'Not found', 'Batch not found');
    const body = this.batchView(batch);
    if (withItems) {
      const responses = this.batchItems(batch);
      body.responses = responses;
      body.errors = responses.filter((item) => item.responseCode >= 400);
    }
    return { status: 200, body };
  }

  private batchView(batch: OmnisendBatch): Record<string, unknown> {
    const status = this.statusOf(batch);
    const body: Record<string, unknown> = {
      batchID: batch.batchID,
      method: batch.method,
      endpoint: batch.endpoint,
      status,
      totalCount: batch.totalCount,
      finishedCount: status === 'finished' ? batch.totalCount : 0,
      errorsCount: batch.errorsCount,
      createdAt: new Date(batch.createdAt).toISOString(),
    };
    if (status !== 'pending') body.startedAt = new Date(batch.inProgressAt).toISOString();
    if (batch.endedAt !== undefined) body.endedAt = new Date(batch.endedAt).toISOString();
    return body;
  }

  private batchItems(batch: OmnisendBatch): Array<Record<string, unknown> & { responseCode: number }> {
    const { itemSerials, itemCodes, failures } = batch;
    if (!itemSerials || !itemCodes) return [];
    return [...itemSerials].map((serial, index) => {
      const responseCode = itemCodes[index]!;
      const itemID = `${batch.batchID}-${index}`;
      const failure = failures?.get(index);
      if (failure && !this.echoFailedItemRequests) return { itemID, status: 'finished', responseCode, response: failure.response };
      if (failure) return { itemID, status: 'finished', responseCode, request: failure.request, response: failure.response };
      const email = this.state.contacts.emailOf(serial);
      return {
        itemID,
        status: 'finished',
        responseCode,
        request: { identifiers: [{ type: 'email', id: email }] },
        response: { contactID: contactID(serial), email },
      };
    });
  }

  /** Tagging is asynchronous (documented): the 202 comes first, the tags change `asyncDelayMs` later. */
  private changeTags(context: RequestContext, change: 'add' | 'remove'): Reply {
    const parsed = this.schemas.tags.safeParse(context.body);
    if (!parsed.success) return validationProblem(fieldIssues(parsed.error));
    const request = { tags: parsed.data.tags, emails: parsed.data.emails ?? [] };
    this.server.schedule(this.common.asyncDelayMs, () => this.applyTags(request, change));
    return { status: 202 };
  }

  private applyTags(parsed: { tags: string[]; emails: string[] }, change: 'add' | 'remove'): void {
    const { contacts, tags } = this.state;
    for (const email of parsed.emails) {
      const serial = contacts.serialOf(emailKey(email));
      if (serial === undefined) {
        this.state.counters.ignoredTagEmails += 1;
        continue;
      }
      for (const tag of parsed.tags) {
        if (change === 'add') tags.add(tag, serial);
        else tags.remove(tag, serial);
      }
    }
  }
}

export async function startOmnisendEmulator(options: OmnisendEmulatorOptions = {}): Promise<OmnisendEmulator> {
  const emulator = new OmnisendEmulator(options);
  await emulator.listen();
  return emulator;
}
