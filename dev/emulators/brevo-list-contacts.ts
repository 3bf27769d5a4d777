// `GET /v3/contacts/lists/{listId}/contacts` of the Brevo emulator ("Get contacts in a list"):
// `limit` (default 50, at most 500), `offset` (default 0) and `sort` (`desc` by default), answered
// `{ contacts: [{ email, id, emailBlacklisted, smsBlacklisted, createdAt, modifiedAt, listIds,
// listUnsubscribed, attributes }], count }`. The emulator orders a list by when each contact joined
// it (Brevo: by the contact's creation), and gives ids and timestamps when a contact is first listed.
import { z } from 'zod';
import type { Reply } from './kit/server';
import { describeIssues, fieldIssues } from './kit/validation';

export interface ListedList {
  id: number;
  members: ReadonlySet<string>;
}

export interface ListContactsState {
  lists: ReadonlyMap<number, ListedList>;
  contacts: ReadonlyMap<string, Record<string, unknown>>;
  blacklisted: ReadonlySet<string>;
}

const querySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500, { error: 'limit: at most 500 contacts per page' }).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  sort: z.enum(['asc', 'desc']).default('desc'),
  modifiedSince: z.never({ error: 'modifiedSince is not emulated' }).optional(),
});

/** Ids and creation times of contacts, handed out in the order contacts are first listed. */
export class ContactIds {
  private readonly ids = new Map<string, { id: number; at: number }>();

  of(email: string): { id: number; at: number } {
    let entry = this.ids.get(email);
    if (!entry) {
      entry = { id: this.ids.size + 1, at: Date.now() };
      this.ids.set(email, entry);
    }
    return entry;
  }

  clear(): void {
    this.ids.clear();
  }
}

function page(members: ReadonlySet<string>, offset: number, limit: number, sort: 'asc' | 'desc'): string[] {
  if (sort === 'desc') {
    const all = [...members];
    const end = Math.max(0, all.length - offset);
    return all.slice(Math.max(0, end - limit), end).reverse();
  }
  const emails: string[] = [];
  let index = 0;
  for (const email of members) {
    if (index >= offset + limit) break;
    if (index >= offset) emails.push(email);
    index += 1;
  }
  return emails;
}

export function listContactsReply(list: ListedList, query: URLSearchParams, state: ListContactsState, ids: ContactIds): Reply {
  const parsed = querySchema.safeParse(Object.fromEntries(query));
  if (!parsed.success) return { status: 400, body: { code: 'invalid_parameter', message: describeIssues(fieldIssues(parsed.error)) } };
  const { limit, offset, sort } = parsed.data;
  const contacts = page(list.members, offset, limit, sort).map((email) => {
    const { id, at } = ids.of(email);
    const listIds = [...state.lists.values()].filter((each) => each.members.has(email)).map((each) => each.id);
    return {
      email,
      id,
      emailBlacklisted: state.blacklisted.has(email),
      smsBlacklisted: false,
      createdAt: new Date(at).toISOString(),
      modifiedAt: new Date(at).toISOString(),
      listIds,
      listUnsubscribed: [],
      attributes: state.contacts.get(email) ?? {},
    };
  });
  return { status: 200, body: { contacts, count: list.members.size } };
}
