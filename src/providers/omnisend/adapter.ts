import { z } from 'zod';
import { isProviderErrorKind, ProviderPermanentError } from '../errors';
import type { ProviderHttpClient } from '../http';
import { BUCKETS } from '../limits';
import { EmailIndex, maxChunkBytes, maxUpsertOverheadBytes, PHONE_DROPPED, PROVIDER_REJECTED, PROVIDER_UNMATCHED, type UpsertRecord } from '../records';
import { toE164 } from './phone';
import { omnisendTagName } from './tags';
import type {
  ChunkLimits,
  ChunkOperation,
  ContactDirectory,
  DeliveryState,
  MemberPage,
  MemberRecord,
  ProviderAdapter,
  ProviderCallOptions,
  RecordReject,
  StepOptions,
  StepResult,
  Target,
  TargetSpec,
} from '../types';

/**
 * Omnisend (API version 2026-03-15): contacts are upserted through asynchronous batches of 100
 * (bodies of at most 1 MB, phones in E.164; a batch whose answer was lost is looked up, never
 * posted again blind),
 * each batch's status is read until it finishes (its items only when it reports errors), and then
 * the chunk's new members get the segment's tag in one call of up to 250 emails. Removals take the
 * tag off, 250 emails per call.
 *
 * Why 250 records per upsert chunk: the tag call (60/minute) is the bottleneck, and a full tag call
 * takes 250 emails. Each chunk then costs 3 batch posts + at least 3 status reads = 6 brand-bucket
 * requests per tag call; at 60 tag calls a minute that is 360 of the brand's 400/minute, leaving
 * room for the occasional extra status read, so both limits are used nearly to the full.
 */
export const OMNISEND_API_VERSION = '2026-03-15';

const BATCH_ITEMS = 100;
/**
 * Two tag calls' worth: a chunk of 500 costs 5 batch posts, 5 status reads and 2 tag calls, 6
 * brand requests per 250 contacts, so the tags limit (60/min) binds, not the brand limit (400/min,
 * which tag calls count against too). At 250 a chunk would cost 7 and the brand limit would bind.
 */
const MAX_UPSERT_RECORDS = 500;
const MAX_TAG_EMAILS = 250;
/** The most contacts one `GET /contacts` page holds (documented range 1-250). */
const CONTACTS_PAGE_SIZE = 250;
/** Omnisend recommends batch bodies of at most 1 MB. */
const MAX_BODY_BYTES = 1_000_000;
/** The most E.164 normalisation lengthens a phone: `+` and a country code of up to 3 digits. */
const PHONE_GROWTH_BYTES = 4;
/** A batch whose answer was lost is looked for this many times before it is known not to exist. */
const MAX_BATCH_LOOKS = 3;
/** Clocks differ: a batch created this long before we posted may still be ours. */
const CLOCK_SKEW_MS = 60_000;
/** In `batchIds`: a batch whose answer was lost and that could not be told apart from others. */
const UNCONFIRMED_BATCH = '-';
/** A batch that Omnisend stopped is posted again this many times before its records are rejected. */
const MAX_REPOSTS = 3;

export function encodeContact(record: UpsertRecord): Record<string, unknown> {
  const { firstName, lastName, phone, address, city, countryRegion, postalCode } = record.fields;
  // An upsert that names a status overwrites the contact's own (an opted-in customer would end
  // nonSubscribed): a status goes only to a contact that Omnisend told us it does not have. The
  // welcome message is always turned off, since Omnisend defaults it to on.
  const unknownToOmnisend = record.isNew && record.knownToProvider === false;
  const emailChannels = unknownToOmnisend ? { channels: { email: { status: 'nonSubscribed' } } } : {};
  const identifiers: Record<string, unknown>[] = [{ type: 'email', id: record.email, ...emailChannels, sendWelcomeMessage: false }];
  // The 2026-03-15 contact has no phone field: a phone number is an identifier of its own.
  if (phone !== undefined) {
    const smsChannels = unknownToOmnisend ? { channels: { sms: { status: 'nonSubscribed' } } } : {};
    identifiers.push({ type: 'phone', id: phone, ...smsChannels, sendWelcomeMessage: false });
  }
  const contact: Record<string, unknown> = { identifiers };
  if (firstName !== undefined) contact.firstName = firstName;
  if (lastName !== undefined) contact.lastName = lastName;
  if (address !== undefined) contact.address = address;
  if (city !== undefined) contact.city = city;
  if (postalCode !== undefined) contact.postalCode = postalCode;
  if (countryRegion !== undefined) {
    if (/^[A-Za-z]{2}$/.test(countryRegion)) contact.countryCode = countryRegion.toUpperCase();
    else contact.country = countryRegion;
  }
  return contact;
}

/** A `GET /contacts` page (2026-03-15): a contact without an email identifier (phone only) has no `email`. */
const contactsPageSchema = z.looseObject({
  contacts: z.array(z.looseObject({ email: z.string().nullish() })),
  paging: z
    .looseObject({
      cursors: z.looseObject({ after: z.string().nullish() }).nullish(),
      hasMore: z.boolean().optional(),
    })
    .nullish(),
});
type ContactsPage = z.infer<typeof contactsPageSchema>;

const batchCreatedSchema = z.looseObject({ batchID: z.string().min(1) });
const batchSchema = z.looseObject({
  status: z.enum(['pending', 'inProgress', 'finished', 'stopped']),
  errorsCount: z.number().int().optional(),
});
const batchItemSchema = z.looseObject({
  itemID: z.string().optional(),
  responseCode: z.number().int(),
  request: z.unknown().optional(),
  response: z.unknown().optional(),
});
type BatchItem = z.infer<typeof batchItemSchema>;
const batchItemsSchema = z.looseObject({
  responses: z.array(batchItemSchema).optional(),
  errors: z.array(batchItemSchema).optional(),
});

const stateSchema = z.discriminatedUnion('phase', [
  z.object({
    phase: z.literal('upsert'),
    /** One per posted batch, batch i holding records [100 i, 100 i + 100). */
    batchIds: z.array(z.string()),
    /** Batches known to be finished and accounted for. */
    checked: z.number().int().nonnegative(),
    /** The next request reads batch `checked`'s items (it reported errors, or was stopped for good). */
    readItems: z.boolean(),
    /** The next request posts batch `checked` again (Omnisend stopped it). */
    repost: z.boolean(),
    reposts: z.number().int().nonnegative(),
    /** Rejected records as [record index, index into reasons]: reasons repeat, so they are stored once. */
    rejected: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])),
    reasons: z.array(z.string()),
    /** New members already tagged (tag calls take 250 emails each). */
    tagged: z.number().int().nonnegative().default(0),
    /** Records Omnisend reported failed without naming them (or of a batch that could not be found): not delivered. */
    unmatched: z.array(z.number().int().nonnegative()).default([]),
    /** The answer to posting batch `batch` was lost at `sentAtMs`: it is looked up, never posted blind. */
    lost: z.object({ batch: z.number().int().nonnegative(), sentAtMs: z.number(), looks: z.number().int().nonnegative() }).optional(),
  }),
  z.object({ phase: z.literal('remove') }),
]);
type OmnisendState = z.infer<typeof stateSchema>;
type UpsertState = Extract<OmnisendState, { phase: 'upsert' }>;
type UpsertOperation = Extract<ChunkOperation, { kind: 'upsert' }>;

export interface OmnisendAdapterOptions {
  http: ProviderHttpClient;
  /** Wait before reading a batch's status again. Default 5 s. */
  batchPollMs?: number;
  now?: () => number;
}

export class OmnisendAdapter implements ProviderAdapter {
  readonly provider = 'omnisend' as const;
  readonly chunkLimits: { upsert: ChunkLimits; remove: ChunkLimits } = {
    // Any 100 records of a chunk form one batch body, so the batch limit bounds the whole chunk.
    upsert: {
      maxRecords: MAX_UPSERT_RECORDS,
      maxBytes: maxChunkBytes(MAX_BODY_BYTES, BATCH_ITEMS, maxUpsertOverheadBytes(encodeContact) + PHONE_GROWTH_BYTES),
    },
    remove: { maxRecords: MAX_TAG_EMAILS, maxBytes: maxChunkBytes(MAX_BODY_BYTES, MAX_TAG_EMAILS, 0) },
  };

  readonly membersBucket = BUCKETS.omnisend.brand;
  /** Omnisend's upsert would overwrite a status: the pipeline asks it which contacts it has. */
  readonly directory: ContactDirectory;

  private readonly http: ProviderHttpClient;
  private readonly batchPollMs: number;
  private readonly now: () => number;

  constructor(options: OmnisendAdapterOptions) {
    this.http = options.http;
    this.batchPollMs = options.batchPollMs ?? 5_000;
    this.now = options.now ?? Date.now;
    this.directory = {
      bucket: BUCKETS.omnisend.brand,
      pageSize: CONTACTS_PAGE_SIZE,
      listContacts: (cursor, callOptions) => this.contactsPage({}, cursor, callOptions),
      contactExists: async (email, callOptions = {}) => {
        const { data } = await this.http.request(
          { method: 'GET', path: '/contacts', query: { email, limit: 1 }, schema: contactsPageSchema, bucket: BUCKETS.omnisend.brand },
          callOptions,
        );
        return data.contacts.length > 0;
      },
    };
  }

  /** The contacts that carry the tag now, 250 per page (`tag` cannot be combined with `status`). */
  async readTargetMembers(target: Target, cursor: string | undefined, options: ProviderCallOptions = {}): Promise<MemberPage> {
    return this.contactsPage({ tag: tagOf(target) }, cursor, options);
  }

  private async contactsPage(filter: { tag?: string }, cursor: string | undefined, options: ProviderCallOptions = {}): Promise<MemberPage> {
    const query: Record<string, string | number> = { ...filter, limit: CONTACTS_PAGE_SIZE, ...(cursor === undefined ? {} : { after: cursor }) };
    const { data } = await this.http.request(
      { method: 'GET', path: '/contacts', query, schema: contactsPageSchema, bucket: BUCKETS.omnisend.brand },
      options,
    );
    return memberPage(data);
  }

  async verifyCredentials(options: ProviderCallOptions = {}): Promise<void> {
    await this.http.request({ method: 'GET', path: '/contacts', query: { limit: 1 }, schema: z.unknown(), bucket: BUCKETS.omnisend.brand }, options);
  }

  /** The tag is created by tagging; its name is mapped onto the alphabet Omnisend accepts. */
  async prepareTarget(spec: TargetSpec): Promise<Target> {
    if (spec.provider !== 'omnisend') throw new Error(`An Omnisend adapter cannot prepare a ${spec.provider} target`);
    return { provider: 'omnisend', tag: omnisendTagName(spec.tag) };
  }

  start(operation: ChunkOperation): DeliveryState {
    const state: OmnisendState =
      operation.kind === 'upsert'
        ? { phase: 'upsert', batchIds: [], checked: 0, readItems: false, repost: false, reposts: 0, rejected: [], reasons: [], tagged: 0, unmatched: [] }
        : { phase: 'remove' };
    return state;
  }

  nextBucket(operation: ChunkOperation, rawState: DeliveryState): string {
    const state = parseState(rawState);
    if (state.phase === 'remove') return BUCKETS.omnisend.tags;
    return state.checked >= batchCount(operation) ? BUCKETS.omnisend.tags : BUCKETS.omnisend.brand;
  }

  async step(operation: ChunkOperation, rawState: DeliveryState, options: StepOptions = {}): Promise<StepResult> {
    const state = parseState(rawState);
    const tag = tagOf(operation.target);
    if (state.phase === 'remove') {
      if (operation.kind !== 'remove') throw new Error('An Omnisend removal state does not belong to an upsert chunk');
      await this.tagRequest('DELETE', tag, operation.emails, options);
      return { kind: 'done', rejects: [] };
    }
    if (operation.kind !== 'upsert') throw new Error('An Omnisend upsert state does not belong to a removal chunk');
    const batches = batchCount(operation);
    if (state.lost) return this.findBatch(operation, state, state.lost, options);
    if (state.repost) return this.postBatch(operation, state, state.checked, options);
    if (state.batchIds.length < batches) return this.postBatch(operation, state, state.batchIds.length, options);
    if (state.checked < batches) {
      return state.readItems ? this.readItems(operation, state, options) : this.readStatus(state, options);
    }
    return this.tagNewMembers(operation, state, tag, options);
  }

  private async postBatch(operation: UpsertOperation, state: UpsertState, batch: number, options: StepOptions): Promise<StepResult> {
    const records = batchRecords(operation, batch);
    const sentAtMs = this.now();
    let batchID: string;
    try {
      const { data } = await this.http.request(
        {
          method: 'POST',
          path: '/batches',
          json: { method: 'POST', endpoint: 'contacts', items: records.map((record) => encodeContact(withE164Phone(record))) },
          schema: batchCreatedSchema,
          bucket: BUCKETS.omnisend.brand,
          maxBodyBytes: MAX_BODY_BYTES,
          // A batch posted again runs again: after a lost answer it is looked up instead.
          idempotent: false,
        },
        options,
      );
      batchID = data.batchID;
    } catch (error) {
      if (!isProviderErrorKind(error, 'transient')) throw error;
      return { kind: 'next', state: { ...state, lost: { batch, sentAtMs, looks: 0 } }, notBeforeMs: this.batchPollMs };
    }
    return this.posted(operation, state, batch, batchID);
  }

  /** Batch `batch` exists at Omnisend as `batchID` (posted, or found after a lost answer). */
  private posted(operation: UpsertOperation, state: UpsertState, batch: number, batchID: string): StepResult {
    const batchIds = [...state.batchIds];
    batchIds[batch] = batchID;
    const reposted = state.repost;
    const next: UpsertState = { ...state, batchIds, repost: false, reposts: state.reposts + (reposted ? 1 : 0), lost: undefined };
    // Once every batch is posted, give the first one time to run before reading its status.
    const allPosted = batchIds.length >= batchCount(operation);
    return allPosted || reposted ? { kind: 'next', state: next, notBeforeMs: this.batchPollMs } : { kind: 'next', state: next };
  }

  /**
   * The answer to a batch was lost: the brand's recent contact batches say whether Omnisend took it.
   * One new batch of that size since we posted is ours; none, looked for a few times, means it was
   * not taken and it is posted again; several cannot be told apart, so its records are reported
   * as unconfirmed (`provider_unmatched`, offered again by the next run) rather than posted twice.
   */
  private async findBatch(operation: UpsertOperation, state: UpsertState, lost: NonNullable<UpsertState['lost']>, options: StepOptions): Promise<StepResult> {
    const { data } = await this.http.request(
      { method: 'GET', path: '/batches', query: { endpoint: 'contacts', limit: 250 }, schema: batchListSchema, bucket: BUCKETS.omnisend.brand },
      options,
    );
    const size = batchRecords(operation, lost.batch).length;
    const candidates = (data.batches ?? []).filter(
      (batch) =>
        !state.batchIds.includes(batch.batchID) &&
        batch.totalCount === size &&
        (batch.endpoint === undefined || batch.endpoint === 'contacts') &&
        (batch.createdAt === undefined || Date.parse(batch.createdAt) >= lost.sentAtMs - CLOCK_SKEW_MS),
    );
    if (candidates.length === 1) return this.posted(operation, state, lost.batch, candidates[0]!.batchID);
    if (candidates.length === 0 && lost.looks + 1 < MAX_BATCH_LOOKS) {
      return { kind: 'next', state: { ...state, lost: { ...lost, looks: lost.looks + 1 } }, notBeforeMs: this.batchPollMs };
    }
    if (candidates.length === 0) return { kind: 'next', state: { ...state, lost: undefined } };
    const first = lost.batch * BATCH_ITEMS;
    const unmatched = [...state.unmatched, ...Array.from({ length: size }, (_, i) => first + i)];
    return this.posted(operation, { ...state, unmatched }, lost.batch, UNCONFIRMED_BATCH);
  }

  private async readStatus(state: UpsertState, options: StepOptions): Promise<StepResult> {
    const batchId = state.batchIds[state.checked]!;
    if (batchId === UNCONFIRMED_BATCH) return { kind: 'next', state: { ...state, checked: state.checked + 1, reposts: 0 } };
    const { data } = await this.http.request(
      { method: 'GET', path: `/batches/${encodeURIComponent(batchId)}`, schema: batchSchema, bucket: BUCKETS.omnisend.brand },
      options,
    );
    if (data.status === 'pending' || data.status === 'inProgress') return { kind: 'next', state, notBeforeMs: this.batchPollMs };
    if (data.status === 'stopped' && state.reposts < MAX_REPOSTS) {
      return { kind: 'next', state: { ...state, repost: true } };
    }
    if (data.status === 'stopped' || (data.errorsCount ?? 0) > 0) return { kind: 'next', state: { ...state, readItems: true } };
    return { kind: 'next', state: { ...state, checked: state.checked + 1, reposts: 0 } };
  }

  private async readItems(operation: UpsertOperation, state: UpsertState, options: StepOptions): Promise<StepResult> {
    const batchId = state.batchIds[state.checked]!;
    const { data } = await this.http.request(
      { method: 'GET', path: `/batches/${encodeURIComponent(batchId)}/items`, schema: batchItemsSchema, bucket: BUCKETS.omnisend.brand },
      options,
    );
    const first = state.checked * BATCH_ITEMS;
    const records = batchRecords(operation, state.checked);
    const index = new EmailIndex(records.map((record) => record.email));
    const reasons = [...state.reasons];
    const rejected = [...state.rejected];
    const reject = (recordIndex: number, reason: string) => {
      if (rejected.some(([i]) => i === recordIndex)) return;
      let reasonIndex = reasons.indexOf(reason);
      if (reasonIndex < 0) reasonIndex = reasons.push(reason) - 1;
      rejected.push([recordIndex, reasonIndex]);
    };
    const items = [...(data.errors ?? []), ...(data.responses ?? [])];
    const succeeded = new Set<number>();
    let nameless = 0;
    for (const item of items) {
      const ok = item.responseCode >= 200 && item.responseCode < 300;
      const position = itemEmail(item) === undefined ? undefined : index.indexOf(itemEmail(item)!);
      if (position === undefined) {
        if (!ok) nameless += 1;
        continue;
      }
      if (ok) succeeded.add(position);
      else reject(first + position, itemReason(item));
    }
    // A failure Omnisend did not name could be any record not confirmed: none of those counts as delivered.
    const unmatched = [...state.unmatched];
    if (nameless > 0) {
      records.forEach((_record, position) => {
        if (!succeeded.has(position) && !rejected.some(([i]) => i === first + position)) unmatched.push(first + position);
      });
    }
    // A batch that stayed stopped after being posted again: what it did not process is rejected.
    if (state.reposts >= MAX_REPOSTS) {
      records.forEach((_record, position) => {
        if (!succeeded.has(position)) reject(first + position, 'Omnisend stopped the batch before processing this contact');
      });
    }
    return { kind: 'next', state: { ...state, rejected, reasons, unmatched, checked: state.checked + 1, readItems: false, reposts: 0 } };
  }

  private async tagNewMembers(operation: UpsertOperation, state: UpsertState, tag: string, options: StepOptions): Promise<StepResult> {
    const rejectedAt = new Map(state.rejected.map(([recordIndex, reasonIndex]) => [recordIndex, state.reasons[reasonIndex] ?? '']));
    const unmatched = new Set(state.unmatched.filter((i) => !rejectedAt.has(i)));
    const emails = operation.records.filter((record, i) => record.isNew && !rejectedAt.has(i) && !unmatched.has(i)).map((record) => record.email);
    const batch = emails.slice(state.tagged, state.tagged + MAX_TAG_EMAILS);
    if (batch.length > 0) await this.tagRequest('POST', tag, batch, options);
    if (state.tagged + MAX_TAG_EMAILS < emails.length) return { kind: 'next', state: { ...state, tagged: state.tagged + MAX_TAG_EMAILS } };
    const rejects: RecordReject[] = [...rejectedAt].map(([i, reason]) => ({
      email: operation.records[i]!.email,
      code: PROVIDER_REJECTED,
      reason,
    }));
    for (const i of unmatched) rejects.push({ email: operation.records[i]!.email, code: PROVIDER_UNMATCHED, reason: UNMATCHED_REASON });
    operation.records.forEach((record, i) => {
      if (rejectedAt.has(i) || unmatched.has(i)) return;
      const dropped = droppedPhone(record);
      if (dropped) rejects.push({ email: record.email, code: PHONE_DROPPED, reason: dropped, delivered: true });
    });
    return { kind: 'done', rejects };
  }

  private async tagRequest(method: 'POST' | 'DELETE', tag: string, emails: string[], options: ProviderCallOptions): Promise<void> {
    await this.http.request(
      {
        method,
        path: '/contacts/tags',
        json: { tags: [tag], emails },
        schema: z.unknown(),
        bucket: BUCKETS.omnisend.tags,
        maxBodyBytes: MAX_BODY_BYTES,
      },
      options,
    );
  }
}

function memberPage(page: ContactsPage): MemberPage {
  const emails = page.contacts.flatMap((contact) => (contact.email ? [contact.email.trim().toLowerCase()] : []));
  const after = page.paging?.cursors?.after;
  // The cursor is followed only while Omnisend says there is more: a last page may still carry one.
  if (page.paging?.hasMore !== true) return { emails };
  // Stopping here would pass a partial listing off as whole (members missed, later removed as ours).
  if (!after) {
    throw new ProviderPermanentError({
      provider: 'omnisend',
      operation: 'GET /api/contacts',
      providerCode: 'unexpected_response',
      providerMessage: 'the page says there are more contacts but gives no cursor to them',
    });
  }
  return { emails, cursor: after };
}

function batchCount(operation: ChunkOperation): number {
  return operation.kind === 'upsert' ? Math.ceil(operation.records.length / BATCH_ITEMS) : 0;
}

function batchRecords(operation: UpsertOperation, batch: number): UpsertRecord[] {
  return operation.records.slice(batch * BATCH_ITEMS, (batch + 1) * BATCH_ITEMS);
}

const itemRequestSchema = z.looseObject({
  identifiers: z.array(z.looseObject({ type: z.string(), id: z.string() })),
});
const itemResponseSchema = z.looseObject({ email: z.string() });

function itemEmail(item: BatchItem): string | undefined {
  const request = itemRequestSchema.safeParse(item.request);
  const fromRequest = request.success ? request.data.identifiers.find((identifier) => identifier.type === 'email')?.id : undefined;
  if (fromRequest !== undefined) return fromRequest;
  const response = itemResponseSchema.safeParse(item.response);
  return response.success ? response.data.email : undefined;
}

const problemSchema = z.looseObject({
  title: z.string().optional(),
  detail: z.string().optional(),
  errors: z.array(z.looseObject({ field: z.string().optional(), message: z.string().optional() })).optional(),
});

function itemReason(item: BatchItem): string {
  const problem = problemSchema.safeParse(item.response);
  const detail = problem.success ? (problem.data.errors?.[0]?.message ?? problem.data.detail ?? problem.data.title) : undefined;
  return `Omnisend rejected the contact (HTTP ${item.responseCode}${detail ? `: ${detail.slice(0, 160)}` : ''})`;
}

function parseState(state: DeliveryState): OmnisendState {
  const parsed = stateSchema.safeParse(state);
  if (!parsed.success) throw new Error(`Not an Omnisend delivery state: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function tagOf(target: Target): string {
  if (target.provider !== 'omnisend') throw new Error(`An Omnisend adapter cannot deliver to a ${target.provider} target`);
  // Chunks planned before tags were mapped carry the segment's name: mapping is idempotent.
  return omnisendTagName(target.tag);
}

const UNMATCHED_REASON = 'Omnisend reported a failure in this contact\'s batch without naming the contact (or lost the batch): it is not confirmed';

/** The record as sent: its phone in E.164, or without a phone that cannot be. */
export function withE164Phone<T extends MemberRecord>(record: T): T {
  const phone = record.fields.phone;
  if (phone === undefined) return record;
  const checked = toE164(phone, record.fields.countryRegion);
  const fields = { ...record.fields };
  if (checked.ok) fields.phone = checked.phone;
  else delete fields.phone;
  return { ...record, fields };
}

/** Why the record's phone was left out, or undefined. */
function droppedPhone(record: MemberRecord): string | undefined {
  const phone = record.fields.phone;
  if (phone === undefined) return undefined;
  const checked = toE164(phone, record.fields.countryRegion);
  return checked.ok ? undefined : checked.reason;
}

const batchListSchema = z.looseObject({
  batches: z
    .array(z.looseObject({ batchID: z.string(), totalCount: z.number().int(), endpoint: z.string().optional(), createdAt: z.string().optional() }))
    .nullish(),
});
