import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { BaseEmulator } from './kit/base';
import { emailKey } from './kit/email';
import { resolveCommonOptions, type CommonEmulatorOptions, type ResolvedCommonOptions } from './kit/options';
import type { RateLimit } from './kit/rate-limits';
import type { ProviderProtocol, Reply, RequestContext, Route } from './kit/server';
import { describeIssues, fieldIssues } from './kit/validation';
import { loadIterableClientSchemas, type IterableClientSchemas } from './iterable-client';
import { ShardedMap, ShardedSet } from './kit/sharded';

export type IterableListType = 'Standard' | 'Dynamic' | 'Suppression' | 'Internal';
/** How the project identifies users: Iterable honours `updateExistingUsersOnly` only in userId-based and hybrid projects. */
export type IterableProjectType = 'email' | 'userId' | 'hybrid';

export interface IterableEmulatorOptions extends CommonEmulatorOptions {
  /**
   * Default 5 requests per sliding second, per project (shared by every key): Iterable documents
   * that limit for `users/bulkUpdate`; its spec gives none for the list endpoints.
   */
  rateLimit?: RateLimit;
  /** Bucket `listUsers` (`GET /api/lists/getUsers`, counted in `api` too): default 5 per sliding minute, as documented. */
  listUsersRateLimit?: RateLimit;
  /** Default `'key'`: every API key has its own window; `'account'` shares one. */
  rateLimitPer?: 'key' | 'account';
  /** Subscribers per request: Iterable documents no cap, so by default there is none (the body limit binds). */
  maxSubscribersPerRequest?: number;
  /** Default 4 MiB, the documented body limit. */
  maxBodyBytes?: number;
  /** Default `'email'`: `updateExistingUsersOnly` is ignored and unknown emails create users. */
  projectType?: IterableProjectType;
  /** Lists that exist from the start (and after `reset()`): names (Standard lists) or `{ name, listType }`. */
  lists?: ReadonlyArray<string | { name: string; listType: IterableListType }>;
}

export interface IterableList {
  id: number;
  name: string;
  createdAt: number;
  listType: IterableListType;
  /** Lower-cased emails (sharded: see kit/sharded.ts). */
  members: ShardedSet;
}

export interface IterableState {
  lists: Map<number, IterableList>;
  /** Lower-cased email -> dataFields (empty objects when `retainAttributes` is off). */
  users: ShardedMap<Record<string, unknown>>;
  /** Users unsubscribed from the channel by `channelUnsubscribe: true`: must stay empty. */
  globalUnsubscribes: Set<string>;
  /** Users deleted through `DELETE /api/users/{email}`. */
  deletedUsers: Set<string>;
  counters: { channelUnsubscribeRequests: number; subscribed: number; unsubscribed: number; rejected: number };
}

/** The data fields our adapter may send (PROVIDERS.md); anything else breaks the contract. */
const DOCUMENTED_FIELDS = ['firstName', 'lastName', 'phoneNumber', 'address', 'city', 'country', 'postalCode'] as const;
const NO_FIELDS: Record<string, unknown> = Object.freeze({});
const MiB = 1024 * 1024;
const FIRST_LIST_ID = 1001;

function schemas(strict: boolean) {
  const object = strict ? z.strictObject : z.looseObject;
  const dataFields = strict
    ? z.partialRecord(z.enum(DOCUMENTED_FIELDS), z.string().nullable())
    : z.record(z.string(), z.unknown());
  const subscriber = object({
    email: z.string(),
    dataFields: dataFields.optional(),
    userId: z.string().optional(),
    preferUserId: z.boolean().optional(),
    mergeNestedObjects: z.boolean().optional(),
  });
  return {
    createList: object({ name: z.string().min(1) }),
    subscribe: object({
      listId: z.number().int(),
      subscribers: z.array(subscriber),
      updateExistingUsersOnly: z.boolean().optional(),
    }),
    unsubscribe: object({
      listId: z.number().int(),
      subscribers: z.array(object({ email: z.string() })),
      campaignId: z.number().int().optional(),
      templateId: z.number().int().optional(),
      channelUnsubscribe: z.boolean().optional(),
    }),
  };
}

function iterableError(status: number, code: string, msg: string, params: Record<string, unknown> | null = null): Reply {
  return { status, body: { msg, code, params } };
}

const badParams = (msg: string, params: Record<string, unknown> | null = null) => iterableError(400, 'BadParams', msg, params);

function protocol(): ProviderProtocol {
  return {
    readCredential: (headers: IncomingHttpHeaders) => {
      const value = headers['api-key'];
      return typeof value === 'string' ? value : undefined;
    },
    unauthorized: () => iterableError(401, 'BadApiKey', 'Invalid API key', {}),
    notFound: () => iterableError(404, 'NotFound', 'Route not found'),
    rateLimited: () => iterableError(429, 'RateLimitExceeded', 'Rate limit exceeded'),
    serverError: (status) => iterableError(status, 'GenericError', status === 503 ? 'Service unavailable' : 'Internal server error'),
    badJson: (message) => iterableError(400, 'BadJsonBody', `Could not parse the JSON body: ${message}`),
    unsupportedMediaType: () => iterableError(400, 'BadJsonBody', 'Content-Type must be application/json'),
    tooLarge: (limitBytes) => iterableError(400, 'BatchTooLarge', `Request body is larger than ${limitBytes} bytes`, { maxBytes: limitBytes }),
    // Iterable's limits are per project: every key of the project shares them.
    rateScope: () => 'project',
  };
}

/** Iterable's list endpoints (`/api/lists*`), see README.md. */
export class IterableEmulator extends BaseEmulator {
  readonly provider = 'iterable' as const;
  readonly state: IterableState = {
    lists: new Map(),
    users: new ShardedMap(),
    globalUnsubscribes: new Set(),
    deletedUsers: new Set(),
    counters: { channelUnsubscribeRequests: 0, subscribed: 0, unsubscribed: 0, rejected: 0 },
  };
  private nextListId = FIRST_LIST_ID;
  private readonly common: ResolvedCommonOptions;
  private readonly initialLists: NonNullable<IterableEmulatorOptions['lists']>;
  private readonly maxSubscribers: number | undefined;
  private readonly projectType: IterableProjectType;
  private readonly schemas: ReturnType<typeof schemas>;

  constructor(
    options: IterableEmulatorOptions,
    private readonly client: IterableClientSchemas,
  ) {
    super('');
    this.common = resolveCommonOptions('iterable', options);
    this.initialLists = options.lists ?? [];
    this.maxSubscribers = options.maxSubscribersPerRequest;
    this.projectType = options.projectType ?? 'email';
    this.schemas = schemas(this.common.strictContract);
    const maxBodyBytes = options.maxBodyBytes ?? 4 * MiB;
    const buckets = ['api'];
    const routes: Route[] = [
      { method: 'GET', path: '/api/lists', buckets, handle: () => this.getLists() },
      { method: 'POST', path: '/api/lists', buckets, hasBody: true, handle: (context) => this.createListRoute(context) },
      { method: 'DELETE', path: '/api/lists/{listId}', buckets, handle: (context) => this.deleteListRoute(context) },
      { method: 'GET', path: '/api/lists/getUsers', buckets: ['api', 'listUsers'], handle: (context) => this.getUsers(context) },
      { method: 'POST', path: '/api/lists/subscribe', buckets, hasBody: true, maxBodyBytes, handle: (context) => this.subscribe(context) },
      { method: 'POST', path: '/api/lists/unsubscribe', buckets, hasBody: true, maxBodyBytes, handle: (context) => this.unsubscribe(context) },
      { method: 'DELETE', path: '/api/users/{email}', buckets, handle: (context) => this.deleteUserRoute(context) },
    ];
    this.setUp({
      options: this.common,
      buckets: [
        { name: 'api', limits: [options.rateLimit ?? { requests: 5, windowMs: 1000 }] },
        { name: 'listUsers', limits: [options.listUsersRateLimit ?? { requests: 5, windowMs: 60_000 }] },
      ],
      defaultMaxBodyBytes: MiB,
      protocol: protocol(),
      routes,
    });
    this.createInitialLists();
  }

  /** Creates a list like `POST /api/lists` does (names are not unique); other types are made in Iterable's UI. */
  createList(name: string, listType: IterableListType = 'Standard'): number {
    const id = this.nextListId;
    this.nextListId += 1;
    this.state.lists.set(id, { id, name, createdAt: Date.now(), listType, members: new ShardedSet() });
    return id;
  }

  /** The "missing list" fault: the list and its memberships disappear. */
  deleteList(listId: number): boolean {
    return this.state.lists.delete(listId);
  }

  listMembers(listId: number): string[] {
    return [...(this.state.lists.get(listId)?.members ?? [])];
  }

  /**
   * Users who were in a list before any export touched it (tests of what an export must never
   * remove): created when missing, and added to the list.
   */
  seedListMembers(listId: number, emails: readonly string[]): void {
    const list = this.state.lists.get(listId);
    if (!list) throw new Error(`Iterable list ${listId} does not exist`);
    for (const email of emails) {
      const key = emailKey(email);
      if (!this.state.users.has(key)) this.state.users.set(key, this.common.retainAttributes ? {} : NO_FIELDS);
      list.members.add(key);
    }
  }

  listByName(name: string): IterableList[] {
    return [...this.state.lists.values()].filter((list) => list.name === name);
  }

  private createInitialLists(): void {
    for (const list of this.initialLists) {
      if (typeof list === 'string') this.createList(list);
      else this.createList(list.name, list.listType);
    }
  }

  protected clearState(): void {
    this.state.lists.clear();
    this.state.users.clear();
    this.state.globalUnsubscribes.clear();
    this.state.deletedUsers.clear();
    this.state.counters = { channelUnsubscribeRequests: 0, subscribed: 0, unsubscribed: 0, rejected: 0 };
    this.nextListId = FIRST_LIST_ID;
    this.createInitialLists();
  }

  protected providerSummary(): Record<string, unknown> {
    const lists = [...this.state.lists.values()].slice(0, 1000);
    return {
      lists: lists.map((list) => ({ id: list.id, name: list.name, memberCount: list.members.size })),
      listCount: this.state.lists.size,
      users: this.state.users.size,
      globalUnsubscribes: this.state.globalUnsubscribes.size,
      counters: this.state.counters,
    };
  }

  private getLists(): Reply {
    const lists = [...this.state.lists.values()].map(({ id, name, createdAt, listType }) => ({ id, name, createdAt, listType }));
    return this.checked(this.client.GetListsResponseSchema, { status: 200, body: { lists } });
  }

  private createListRoute(context: RequestContext): Reply {
    const parsed = this.schemas.createList.safeParse(context.body);
    if (!parsed.success) return this.invalid(parsed.error);
    return this.checked(this.client.CreateListResponseSchema, { status: 200, body: { listId: this.createList(parsed.data.name) } });
  }

  private deleteListRoute(context: RequestContext): Reply {
    const listId = Number(context.params[0]);
    if (!this.state.lists.has(listId)) return badParams(`List ${context.params[0]} does not exist`, { listId: context.params[0] });
    this.deleteList(listId);
    return iterableError(200, 'Success', '');
  }

  /** The list's users as plain text, one email per line, all at once (the endpoint is not paged). */
  private getUsers(context: RequestContext): Reply {
    const raw = context.query.get('listId');
    const listId = raw !== null && /^\d+$/.test(raw) ? Number(raw) : undefined;
    if (listId === undefined) return badParams('listId is required and must be a list id', { listId: raw });
    const list = this.state.lists.get(listId);
    if (!list) return badParams(`List ${listId} does not exist`, { listId });
    const text = list.members.size === 0 ? '' : `${[...list.members].join('\n')}\n`;
    return { status: 200, text, contentType: 'text/plain; charset=utf-8' };
  }

  private invalid(error: z.ZodError): Reply {
    const errors = fieldIssues(error);
    return badParams(`Invalid request: ${describeIssues(errors)}`, { errors });
  }

  /** An answer Iterable's own client could not read is a bug of the emulator: it fails loudly. */
  private checked(schema: { safeParse(value: unknown): { success: boolean; error?: unknown } }, reply: Reply): Reply {
    const result = schema.safeParse(reply.body);
    if (!result.success) throw new Error(`The Iterable emulator's answer does not parse with @iterable/api: ${String(result.error)}`);
    return reply;
  }

  /**
   * **contract**: the request must parse with Iterable's own client's request schema (an email
   * that client refuses, a missing field); Iterable's client would not send it, so neither may we.
   */
  private clientRefusal(schema: IterableClientSchemas['SubscribeToListParamsSchema'] | IterableClientSchemas['UnsubscribeFromListParamsSchema'], body: unknown): Reply | undefined {
    if (!this.common.strictContract) return undefined;
    const result = schema.safeParse(body);
    if (result.success) return undefined;
    const errors = result.error.issues.map((issue) => ({ field: issue.path.map(String).join('.'), code: issue.code, message: issue.message }));
    return badParams(`Invalid request: ${errors.map((error) => `${error.field}: ${error.message}`).join('; ')}`, { errors });
  }

  private tooManySubscribers(body: unknown): Reply | undefined {
    const subscribers = (body as { subscribers?: unknown } | null)?.subscribers;
    if (this.maxSubscribers !== undefined && Array.isArray(subscribers) && subscribers.length > this.maxSubscribers) {
      return iterableError(400, 'BatchTooLarge', `At most ${this.maxSubscribers} subscribers per request`, {
        maxSubscribers: this.maxSubscribers,
        count: subscribers.length,
      });
    }
    return undefined;
  }

  private subscribe(context: RequestContext): Reply {
    const tooMany = this.tooManySubscribers(context.body);
    if (tooMany) return tooMany;
    const refused = this.clientRefusal(this.client.SubscribeToListParamsSchema, context.body);
    if (refused) return refused;
    const parsed = this.schemas.subscribe.safeParse(context.body);
    if (!parsed.success) return this.invalid(parsed.error);
    const { listId, subscribers, updateExistingUsersOnly } = parsed.data;
    const list = this.state.lists.get(listId);
    if (!list) return badParams(`List ${listId} does not exist`, { listId });
    const { users } = this.state;
    const retain = this.common.retainAttributes;
    const invalidEmails: string[] = [];
    const notFoundEmails: string[] = [];
    let successCount = 0;
    for (const subscriber of subscribers) {
      if (this.common.isInvalidEmail(subscriber.email)) {
        invalidEmails.push(subscriber.email);
        continue;
      }
      const key = emailKey(subscriber.email);
      const fields = users.get(key);
      if (fields === undefined) {
        // Honoured only by userId-based and hybrid projects; email-based ones create the user.
        if (updateExistingUsersOnly === true && this.projectType !== 'email') {
          notFoundEmails.push(subscriber.email);
          continue;
        }
        users.set(key, retain ? { ...subscriber.dataFields } : NO_FIELDS);
      } else if (retain && subscriber.dataFields) {
        Object.assign(fields, subscriber.dataFields);
      }
      list.members.add(key);
      successCount += 1;
    }
    this.state.counters.subscribed += successCount;
    return this.result(successCount, invalidEmails, notFoundEmails);
  }

  private unsubscribe(context: RequestContext): Reply {
    const tooMany = this.tooManySubscribers(context.body);
    if (tooMany) return tooMany;
    const refused = this.clientRefusal(this.client.UnsubscribeFromListParamsSchema, context.body);
    if (refused) return refused;
    const parsed = this.schemas.unsubscribe.safeParse(context.body);
    if (!parsed.success) return this.invalid(parsed.error);
    const { listId, subscribers, channelUnsubscribe } = parsed.data;
    const list = this.state.lists.get(listId);
    if (!list) return badParams(`List ${listId} does not exist`, { listId });
    if (channelUnsubscribe === true) this.state.counters.channelUnsubscribeRequests += 1;
    const invalidEmails: string[] = [];
    const notFoundEmails: string[] = [];
    let successCount = 0;
    for (const subscriber of subscribers) {
      if (this.common.isInvalidEmail(subscriber.email)) {
        invalidEmails.push(subscriber.email);
        continue;
      }
      const key = emailKey(subscriber.email);
      if (!this.state.users.has(key)) {
        notFoundEmails.push(subscriber.email);
        continue;
      }
      list.members.delete(key);
      if (channelUnsubscribe === true) this.state.globalUnsubscribes.add(key);
      successCount += 1;
    }
    this.state.counters.unsubscribed += successCount;
    return this.result(successCount, invalidEmails, notFoundEmails);
  }

  private result(successCount: number, invalidEmails: string[], notFoundEmails: string[]): Reply {
    const failCount = invalidEmails.length + notFoundEmails.length;
    this.state.counters.rejected += failCount;
    return this.checked(this.client.UserBulkUpdateListResponseSchema, {
      status: 200,
      body: {
        successCount,
        failCount,
        // Every field @iterable/api declares, and the ones Iterable's API documentation names.
        failedUpdates: {
          invalidEmails,
          invalidUserIds: [],
          failedEmails: [],
          failedUserIds: [],
          notFoundEmails,
          invalidDataEmails: [],
          conflictEmails: [],
          forgottenEmails: [],
        },
        // Deprecated copies that Iterable still sends.
        invalidEmails,
        invalidUserIds: [],
      },
    });
  }

  /**
   * `DELETE /api/users/{email}`: the user goes with every list membership (Iterable deletes
   * asynchronously; here at once). An unknown user is a 400 BadParams: Iterable's wording for it
   * is not documented, so the adapter reads it as "already gone" only by this message.
   */
  private deleteUserRoute(context: RequestContext): Reply {
    const key = emailKey(context.params[0] ?? '');
    if (!this.state.users.delete(key)) return badParams(`User with email ${key} does not exist`, { email: key });
    for (const list of this.state.lists.values()) list.members.delete(key);
    this.state.deletedUsers.add(key);
    return iterableError(200, 'Success', 'User deletion queued');
  }
}

export async function startIterableEmulator(options: IterableEmulatorOptions = {}): Promise<IterableEmulator> {
  const emulator = new IterableEmulator(options, await loadIterableClientSchemas());
  await emulator.listen();
  return emulator;
}
