import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ProviderTransientError } from '../errors';
import type { ProviderHttpClient } from '../http';
import { BUCKETS } from '../limits';
import { EmailIndex, maxChunkBytes, maxUpsertOverheadBytes, rejectsFor, type UpsertRecord } from '../records';
import type { TargetKey, TargetRegistry } from '../target-registry';
import type {
  ChunkLimits,
  ChunkOperation,
  DeliveryState,
  MemberPage,
  MemberRecord,
  ProviderAdapter,
  ProviderCallOptions,
  StepOptions,
  StepResult,
  Target,
  TargetSpec,
} from '../types';

/**
 * Iterable: one `lists/subscribe` per upsert chunk (adds and field updates together) and one
 * `lists/unsubscribe` with `channelUnsubscribe: false` per removal chunk: both synchronous, so
 * every chunk is a single step. Invalid emails come back inside the 200, in `failedUpdates`.
 */
export const ITERABLE_HOSTS = { us: 'https://api.iterable.com', eu: 'https://api.eu.iterable.com' } as const;
export type IterableRegion = keyof typeof ITERABLE_HOSTS;

/** The documented body limit (4 MB). */
const MAX_BODY_BYTES = 4_000_000;
/**
 * Iterable documents no subscriber count per request; 1,000 is what reference integrations send.
 * Configurable per adapter (`maxSubscribersPerRequest`); the body limit bounds every chunk anyway.
 */
export const DEFAULT_MAX_SUBSCRIBERS = 1_000;
/** `{"email":…}` around each email of a removal. */
const REMOVE_OVERHEAD_BYTES = Buffer.byteLength(JSON.stringify({ email: '' })) - Buffer.byteLength(JSON.stringify(''));

const DATA_FIELD_NAMES = {
  firstName: 'firstName',
  lastName: 'lastName',
  phone: 'phoneNumber',
  address: 'address',
  city: 'city',
  countryRegion: 'country',
  postalCode: 'postalCode',
} as const;

export function encodeSubscriber(record: MemberRecord): { email: string; dataFields?: Record<string, string> } {
  const dataFields: Record<string, string> = {};
  for (const [field, value] of Object.entries(record.fields) as Array<[keyof typeof DATA_FIELD_NAMES, string | undefined]>) {
    if (value !== undefined) dataFields[DATA_FIELD_NAMES[field]] = value;
  }
  return Object.keys(dataFields).length === 0 ? { email: record.email } : { email: record.email, dataFields };
}

const listsSchema = z.object({
  lists: z.array(z.looseObject({ id: z.number().int(), name: z.string(), listType: z.string().optional() })),
});
const createdListSchema = z.looseObject({ listId: z.number().int().positive() });
const emails = z.array(z.string()).optional().catch(undefined);
const listUpdateSchema = z.looseObject({
  successCount: z.number().optional(),
  failCount: z.number().optional(),
  failedUpdates: z
    .looseObject({
      invalidEmails: emails,
      notFoundEmails: emails,
      invalidDataEmails: emails,
      conflictEmails: emails,
      forgottenEmails: emails,
      // Declared by Iterable's own client (@iterable/api).
      failedEmails: emails,
    })
    .optional(),
  invalidEmails: emails,
});
type ListUpdate = z.infer<typeof listUpdateSchema>;

export interface IterableAdapterOptions {
  http: ProviderHttpClient;
  connectionId: string;
  registry: TargetRegistry;
  /** A claim to create a list is taken over after this long (its worker died). Default 2 min. */
  listClaimTtlMs?: number;
  /** How long prepareTarget waits for another worker's list creation. Default 30 s. */
  listWaitMs?: number;
  /** Subscribers per request (undocumented by Iterable). Default 1,000. */
  maxSubscribersPerRequest?: number;
  now?: () => number;
}

export class IterableAdapter implements ProviderAdapter {
  readonly provider = 'iterable' as const;
  readonly chunkLimits: { upsert: ChunkLimits; remove: ChunkLimits };

  /** `GET /api/lists/getUsers`: 5 requests/minute per project, inside the project's API budget. */
  readonly membersBucket = BUCKETS.iterable.listUsers;

  private readonly http: ProviderHttpClient;
  private readonly options: IterableAdapterOptions;
  private readonly now: () => number;

  constructor(options: IterableAdapterOptions) {
    this.http = options.http;
    this.options = options;
    this.now = options.now ?? Date.now;
    const maxRecords = options.maxSubscribersPerRequest ?? DEFAULT_MAX_SUBSCRIBERS;
    this.chunkLimits = {
      upsert: { maxRecords, maxBytes: maxChunkBytes(MAX_BODY_BYTES, maxRecords, maxUpsertOverheadBytes(encodeSubscriber)) },
      remove: { maxRecords, maxBytes: maxChunkBytes(MAX_BODY_BYTES, maxRecords, REMOVE_OVERHEAD_BYTES) },
    };
  }

  async verifyCredentials(options: ProviderCallOptions = {}): Promise<void> {
    await this.listLists(options);
  }

  /**
   * Get-or-create the Standard list by name. Names are not unique and creation is not idempotent, so the
   * creation is claimed in the target registry first: of two workers racing, one creates and the
   * other waits for its id. The registry is read before the lists, so that a remembered id missing
   * from the answer means the list was deleted, not that it was created after we looked.
   */
  async prepareTarget(spec: TargetSpec, options: ProviderCallOptions = {}): Promise<Target> {
    if (spec.provider !== 'iterable') throw new Error(`An Iterable adapter cannot prepare a ${spec.provider} target`);
    const key: TargetKey = { connectionId: this.options.connectionId, kind: 'iterable-list', name: spec.listName };
    const claimTtlMs = this.options.listClaimTtlMs ?? 120_000;
    const deadline = this.now() + (this.options.listWaitMs ?? 30_000);
    const owner = randomUUID();
    for (let round = 0; ; round += 1) {
      const remembered = await this.options.registry.read(key);
      // Only a Standard list is ours to fill: a Suppression, Dynamic or Internal list of that name is not.
      const named = (await this.listLists(options)).filter((list) => list.name === spec.listName && list.listType === 'Standard').map((list) => list.id);
      if (remembered?.state === 'ready' && named.includes(remembered.id)) return this.target(remembered.id, spec.listName);
      if (named.length > 0) {
        const id = Math.min(...named);
        await this.options.registry.complete(key, id);
        return this.target(id, spec.listName);
      }
      const othersClaim = remembered?.state === 'creating' && this.now() - remembered.claimedAtMs < claimTtlMs;
      if (!othersClaim) {
        const claim = await this.options.registry.claim(key, owner, remembered?.etag, this.now());
        if (claim !== undefined) return this.target(await this.createList(key, spec.listName, claim.etag, options), spec.listName);
      }
      if (this.now() >= deadline) {
        throw new ProviderTransientError({
          provider: this.provider,
          operation: 'POST /api/lists',
          providerCode: 'list_creation_pending',
          providerMessage: `another worker is still creating the list '${spec.listName}'`,
        });
      }
      await sleep(Math.min(50 * 2 ** round, 1_000), undefined, { signal: options.abortSignal });
    }
  }

  /**
   * The list's users in one page: the endpoint answers every member as plain text, one per line,
   * and is not paged. A line without an `@` is a userId (a user without an email): never ours.
   */
  async readTargetMembers(target: Target, cursor: string | undefined, options: ProviderCallOptions = {}): Promise<MemberPage> {
    if (cursor !== undefined) throw new Error('Iterable lists are read in one page: there is no next page');
    const { data } = await this.http.request(
      {
        method: 'GET',
        path: '/api/lists/getUsers',
        query: { listId: this.listIdOf(target) },
        schema: z.string(),
        responseType: 'text',
        bucket: BUCKETS.iterable.listUsers,
      },
      options,
    );
    const emails = data
      .split(/\r?\n/)
      .map((line) => line.trim().toLowerCase())
      .filter((line) => line.includes('@'));
    return { emails };
  }

  start(_operation: ChunkOperation): DeliveryState {
    return {};
  }

  nextBucket(_operation: ChunkOperation, _state: DeliveryState): string {
    return BUCKETS.iterable.api;
  }

  async step(operation: ChunkOperation, _state: DeliveryState, options: StepOptions = {}): Promise<StepResult> {
    const listId = this.listIdOf(operation.target);
    if (operation.kind === 'upsert') {
      const { data } = await this.http.request(
        {
          method: 'POST',
          path: '/api/lists/subscribe',
          json: { listId, subscribers: operation.records.map(encodeSubscriber), updateExistingUsersOnly: false },
          schema: listUpdateSchema,
          bucket: BUCKETS.iterable.api,
          maxBodyBytes: MAX_BODY_BYTES,
        },
        options,
      );
      return { kind: 'done', rejects: upsertRejects(operation.records, data) };
    }
    const { data } = await this.http.request(
      {
        method: 'POST',
        path: '/api/lists/unsubscribe',
        // channelUnsubscribe: false keeps this a list removal, never a global unsubscribe.
        json: { listId, subscribers: operation.emails.map((email) => ({ email })), channelUnsubscribe: false },
        schema: listUpdateSchema,
        bucket: BUCKETS.iterable.api,
        maxBodyBytes: MAX_BODY_BYTES,
      },
      options,
    );
    // Unknown or forgotten users are not in the list: for a removal that is success.
    return {
      kind: 'done',
      rejects: rejectsFor(new EmailIndex(operation.emails), [
        { emails: data.failedUpdates?.conflictEmails ?? [], reason: 'Iterable reported a conflict for this user' },
        { emails: data.failedUpdates?.failedEmails ?? [], reason: 'Iterable could not update this user' },
        { emails: data.failedUpdates?.invalidDataEmails ?? [], reason: 'Iterable refused the update for this user' },
      ]),
    };
  }

  private async listLists(options: ProviderCallOptions): Promise<Array<{ id: number; name: string; listType?: string }>> {
    const { data } = await this.http.request({ method: 'GET', path: '/api/lists', schema: listsSchema, bucket: BUCKETS.iterable.api }, options);
    return data.lists;
  }

  private async createList(key: TargetKey, name: string, claimEtag: string, options: ProviderCallOptions): Promise<number> {
    try {
      const { data } = await this.http.request(
        // Not idempotent: a retry after a lost answer would make a second list.
        { method: 'POST', path: '/api/lists', json: { name }, schema: createdListSchema, bucket: BUCKETS.iterable.api, idempotent: false },
        options,
      );
      await this.options.registry.complete(key, data.listId);
      return data.listId;
    } catch (error) {
      await this.options.registry.release(key, claimEtag).catch(() => undefined);
      throw error;
    }
  }

  private target(listId: number, listName: string): Target {
    return { provider: 'iterable', listId, listName };
  }

  private listIdOf(target: Target): number {
    if (target.provider !== 'iterable') throw new Error(`An Iterable adapter cannot deliver to a ${target.provider} target`);
    return target.listId;
  }

  readonly deleteBucket = BUCKETS.iterable.api;

  /**
   * Deletes the user (`DELETE /api/users/{email}`, Iterable's documented user deletion: profile,
   * list memberships and events; asynchronous on Iterable's side). An unknown user answers 400
   * (the message says it does not exist), which is read as already deleted: whether Iterable words
   * it so is unconfirmed, so any other 4xx stays an error.
   */
  async deleteContact(email: string, options: ProviderCallOptions = {}): Promise<'deleted' | 'absent'> {
    let absent = false;
    await this.http.request(
      {
        method: 'DELETE',
        path: `/api/users/${encodeURIComponent(email)}`,
        schema: z.unknown(),
        bucket: BUCKETS.iterable.api,
        recover: ({ statusCode, body }) => {
          const message = JSON.stringify(body ?? '');
          absent = statusCode === 404 || (statusCode === 400 && /does not exist|not found|no user/i.test(message));
          return absent ? {} : undefined;
        },
      },
      options,
    );
    return absent ? 'absent' : 'deleted';
  }
}

function upsertRejects(records: readonly UpsertRecord[], data: ListUpdate): ReturnType<typeof rejectsFor> {
  const failed = data.failedUpdates;
  return rejectsFor(new EmailIndex(records.map((record) => record.email)), [
    { emails: [...(failed?.invalidEmails ?? []), ...(data.invalidEmails ?? [])], reason: 'Iterable rejected the email address as invalid' },
    { emails: failed?.invalidDataEmails ?? [], reason: 'Iterable rejected the data fields (a field has the wrong type)' },
    { emails: failed?.conflictEmails ?? [], reason: 'Iterable reported a conflict for this user' },
    { emails: failed?.forgottenEmails ?? [], reason: 'Iterable has forgotten this user (privacy request): it cannot be added' },
    { emails: failed?.notFoundEmails ?? [], reason: 'Iterable has no such user' },
    { emails: failed?.failedEmails ?? [], reason: 'Iterable could not update this user' },
  ]);
}
