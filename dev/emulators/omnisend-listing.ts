// `GET /api/contacts` of the Omnisend emulator: the published query (limit 1-250, opaque
// `after`/`before` cursors, filters by email, phone, tag, status or updatedAtFrom, sorted by
// creation, newest first unless `direction=asc`) and its filter restrictions, answered with
// `{ contacts, paging: { cursors: { after, before }, hasMore, limit } }`. Cursors are keyset
// positions (a contact's serial), so a whole listing costs one pass over the contacts however many
// pages it takes, and a contact created while a listing runs never shifts the pages.
import { z } from 'zod';
import { emailKey } from './kit/email';
import { fieldIssues, type FieldIssue } from './kit/validation';
import type { OmnisendStatus } from './omnisend-contacts';

/** What the listing reads of the emulator's state; serials run 1..count in creation order. */
export interface ContactIndex {
  readonly count: number;
  serialOfEmail(email: string): number | undefined;
  serialOfPhone(phone: string): number | undefined;
  hasTag(tag: string, serial: number): boolean;
  emailStatusOf(serial: number): OmnisendStatus;
  updatedAtOf(serial: number): number;
}

export type ListingResult =
  | { kind: 'page'; serials: number[]; paging: { cursors: { after: string | null; before: string | null }; hasMore: boolean; limit: number } }
  | { kind: 'invalid'; errors: FieldIssue[] };

const querySchema = z.object({
  limit: z.coerce.number().int().min(1).max(250).default(100),
  after: z.string().min(1).optional(),
  before: z.string().min(1).optional(),
  sort: z.literal('createdAt', { error: 'the emulator sorts by createdAt only (sort=updatedAt is not emulated)' }).optional(),
  direction: z.enum(['asc', 'desc']).default('desc'),
  email: z.string().optional(),
  phone: z.string().optional(),
  status: z.enum(['subscribed', 'unsubscribed', 'nonSubscribed']).optional(),
  tag: z.string().optional(),
  segmentID: z.never({ error: 'segmentID is not emulated' }).optional(),
  updatedAtFrom: z.iso.datetime({ offset: true }).optional(),
});
type Query = z.infer<typeof querySchema>;

/** Published: "`tag` and `status` cannot be used together", and `updatedAtFrom` combines with none of these. */
function restrictionErrors(query: Query): FieldIssue[] {
  const errors: FieldIssue[] = [];
  if (query.tag !== undefined && query.status !== undefined) {
    errors.push({ field: 'status', code: 'invalid_combination', message: 'tag and status cannot be used together' });
  }
  if (query.updatedAtFrom !== undefined) {
    for (const name of ['email', 'phone', 'status', 'tag'] as const) {
      if (query[name] !== undefined) {
        errors.push({ field: 'updatedAtFrom', code: 'invalid_combination', message: `updatedAtFrom cannot be combined with ${name}` });
      }
    }
  }
  if (query.after !== undefined && query.before !== undefined) {
    errors.push({ field: 'before', code: 'invalid_combination', message: 'after and before cannot be used together' });
  }
  return errors;
}

export function encodeCursor(serial: number): string {
  return Buffer.from(JSON.stringify({ s: serial })).toString('base64url');
}

const cursorSchema = z.object({ s: z.number().int().positive() });

function decodeCursor(cursor: string): number | undefined {
  try {
    const parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data.s : undefined;
  } catch {
    return undefined;
  }
}

function filterOf(query: Query, index: ContactIndex): (serial: number) => boolean {
  const { tag, status, updatedAtFrom } = query;
  const from = updatedAtFrom === undefined ? undefined : Date.parse(updatedAtFrom);
  return (serial) =>
    (tag === undefined || index.hasTag(tag, serial)) &&
    (status === undefined || index.emailStatusOf(serial) === status) &&
    (from === undefined || index.updatedAtOf(serial) >= from);
}

/** The only serials an email or phone filter can match (a lookup, not a scan). */
function candidatesOf(query: Query, index: ContactIndex): number[] | undefined {
  if (query.email === undefined && query.phone === undefined) return undefined;
  const byEmail = query.email === undefined ? undefined : index.serialOfEmail(emailKey(query.email));
  const byPhone = query.phone === undefined ? undefined : index.serialOfPhone(query.phone);
  if (query.email !== undefined && query.phone !== undefined) return byEmail !== undefined && byEmail === byPhone ? [byEmail] : [];
  const serial = byEmail ?? byPhone;
  return serial === undefined ? [] : [serial];
}

/** Serials strictly beyond `from` in the travel direction (`step` +1 ascending, -1 descending). */
function* walk(index: ContactIndex, from: number | undefined, step: 1 | -1, candidates: number[] | undefined): Generator<number> {
  if (candidates) {
    const beyond = candidates.filter((serial) => from === undefined || (step > 0 ? serial > from : serial < from));
    yield* beyond.sort((a, b) => (a - b) * step);
    return;
  }
  const start = from === undefined ? (step > 0 ? 1 : index.count) : from + step;
  for (let serial = start; serial >= 1 && serial <= index.count; serial += step) yield serial;
}

export function listContacts(rawQuery: URLSearchParams, index: ContactIndex): ListingResult {
  const parsed = querySchema.safeParse(Object.fromEntries(rawQuery));
  if (!parsed.success) return { kind: 'invalid', errors: fieldIssues(parsed.error) };
  const query = parsed.data;
  const restrictions = restrictionErrors(query);
  if (restrictions.length > 0) return { kind: 'invalid', errors: restrictions };
  const cursorName = query.before !== undefined ? 'before' : query.after !== undefined ? 'after' : undefined;
  const cursor = cursorName === undefined ? undefined : decodeCursor(query[cursorName]!);
  if (cursorName !== undefined && cursor === undefined) {
    return { kind: 'invalid', errors: [{ field: cursorName, code: 'invalid_cursor', message: 'The cursor is not valid' }] };
  }
  const backward = cursorName === 'before';
  const forwardStep: 1 | -1 = query.direction === 'asc' ? 1 : -1;
  const step = backward ? (-forwardStep as 1 | -1) : forwardStep;
  const matches = filterOf(query, index);
  const collected: number[] = [];
  for (const serial of walk(index, cursor, step, candidatesOf(query, index))) {
    if (!matches(serial)) continue;
    collected.push(serial);
    if (collected.length > query.limit) break;
  }
  const more = collected.length > query.limit;
  const serials = collected.slice(0, query.limit);
  if (backward) serials.reverse();
  const first = serials[0];
  const last = serials.at(-1);
  const after = backward ? last : more ? last : undefined;
  const before = backward ? (more ? first : undefined) : cursorName !== undefined ? first : undefined;
  const cursors = {
    after: after === undefined ? null : encodeCursor(after),
    before: before === undefined ? null : encodeCursor(before),
  };
  return { kind: 'page', serials, paging: { cursors, hasMore: more, limit: query.limit } };
}
