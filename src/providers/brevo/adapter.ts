import { z } from 'zod';
import { Errors } from '../../errors';
import { ProviderPermanentError } from '../errors';
import type { ProviderHttpClient } from '../http';
import { BUCKETS } from '../limits';
import { EmailIndex, maxChunkBytes, maxUpsertOverheadBytes, rejectsFor } from '../records';
import type {
  ChunkLimits,
  ChunkOperation,
  DeliveryState,
  MappedField,
  MemberRecord,
  ProviderAdapter,
  ProviderCallOptions,
  StepOptions,
  StepResult,
  Target,
  TargetSpec,
} from '../types';

/**
 * Brevo: upserts go through the asynchronous bulk import (one request per chunk of up to 8 MB),
 * then the import process is read (in the 100/hour bucket: woken by `notifyUrl` when the app has a
 * public URL, else polled at most once a minute), then its invalid-email CSV gives the rejects.
 * Removals take members out of the list only, 150 per request; "already removed" is success.
 */
export const DEFAULT_BREVO_ATTRIBUTES: Readonly<Partial<Record<MappedField, string>>> = {
  firstName: 'FIRSTNAME',
  lastName: 'LASTNAME',
  phone: 'SMS',
};

/** Attribute names per mapped field; `null` leaves a field out, unset fields keep the default. */
export type BrevoAttributeNames = Partial<Record<MappedField, string | null>>;

const MAX_IMPORT_BODY_BYTES = 8_000_000;
/** About 70,000 typical rows fill 8 MB; the byte limit decides for wide records. */
const MAX_IMPORT_RECORDS = 70_000;
const MAX_REMOVE_EMAILS = 150;
/** Brevo answers bodies over 1 MiB (other than imports) with 413. */
const MAX_OTHER_BODY_BYTES = 1_048_576;
/** An import that Brevo ends `failed` applied nothing: it is posted again this many times. */
const MAX_IMPORT_FAILURES = 3;

const importedSchema = z.looseObject({ processId: z.number().int() });
const processSchema = z.looseObject({
  id: z.number().int().optional(),
  status: z.enum(['queued', 'in_process', 'completed', 'failed']),
  info: z
    .looseObject({ import: z.looseObject({ invalid_emails: z.url({ protocol: /^https?$/ }).nullish() }).optional() })
    .nullish(),
});
const listSchema = z.looseObject({ id: z.number().int() });
const removedSchema = z.looseObject({
  contacts: z.looseObject({ success: z.array(z.string()).optional(), failure: z.array(z.string()).optional() }).optional(),
});

const stateSchema = z.discriminatedUnion('phase', [
  /** `failures`: imports of this chunk that Brevo ended `failed` (the import is posted again). */
  z.object({ phase: z.literal('import'), failures: z.number().int().nonnegative().default(0) }),
  z.object({
    phase: z.literal('status'),
    processId: z.number().int(),
    notify: z.boolean(),
    polls: z.number().int(),
    failures: z.number().int().nonnegative().default(0),
  }),
  z.object({ phase: z.literal('invalid-emails'), processId: z.number().int(), url: z.url({ protocol: /^https?$/ }) }),
  z.object({ phase: z.literal('remove') }),
]);
type BrevoState = z.infer<typeof stateSchema>;

export interface BrevoAdapterOptions {
  http: ProviderHttpClient;
  attributes?: BrevoAttributeNames;
  /** Between reads of an import's status without `notifyUrl`. Default 60 s (the 100/hour bucket). */
  pollIntervalMs?: number;
  /** With `notifyUrl`, when to read the status anyway if no call came. Default 15 min. */
  notifyFallbackMs?: number;
}

export class BrevoAdapter implements ProviderAdapter {
  readonly provider = 'brevo' as const;
  readonly chunkLimits: { upsert: ChunkLimits; remove: ChunkLimits };

  private readonly http: ProviderHttpClient;
  private readonly attributes: Array<[MappedField, string]>;
  private readonly pollIntervalMs: number;
  private readonly notifyFallbackMs: number;

  constructor(options: BrevoAdapterOptions) {
    this.http = options.http;
    this.attributes = resolveAttributes(options.attributes);
    this.pollIntervalMs = options.pollIntervalMs ?? 60_000;
    this.notifyFallbackMs = options.notifyFallbackMs ?? 15 * 60_000;
    this.chunkLimits = {
      upsert: {
        maxRecords: MAX_IMPORT_RECORDS,
        maxBytes: maxChunkBytes(MAX_IMPORT_BODY_BYTES, MAX_IMPORT_RECORDS, maxUpsertOverheadBytes((record) => this.encode(record))),
      },
      // The emails array holds the emails exactly as measured.
      remove: { maxRecords: MAX_REMOVE_EMAILS, maxBytes: maxChunkBytes(MAX_OTHER_BODY_BYTES, MAX_REMOVE_EMAILS, 0) },
    };
  }

  async verifyCredentials(options: ProviderCallOptions = {}): Promise<void> {
    await this.http.request({ method: 'GET', path: '/account', schema: z.unknown(), bucket: BUCKETS.brevo.other }, options);
  }

  /** The export names an existing list: a missing one is a permanent `document_not_found` (404). */
  async prepareTarget(spec: TargetSpec, options: ProviderCallOptions = {}): Promise<Target> {
    if (spec.provider !== 'brevo') throw new Error(`A Brevo adapter cannot prepare a ${spec.provider} target`);
    await this.http.request(
      { method: 'GET', path: `/contacts/lists/${spec.listId}`, schema: listSchema, bucket: BUCKETS.brevo.contacts },
      options,
    );
    return { provider: 'brevo', listId: spec.listId };
  }

  start(operation: ChunkOperation): DeliveryState {
    const state: BrevoState = operation.kind === 'upsert' ? { phase: 'import', failures: 0 } : { phase: 'remove' };
    return state;
  }

  nextBucket(_operation: ChunkOperation, state: DeliveryState): string {
    const phase = parseState(state).phase;
    if (phase === 'status') return BUCKETS.brevo.other;
    // The CSV is a file off the API host: it draws from no API budget.
    if (phase === 'invalid-emails') return BUCKETS.brevo.files;
    return BUCKETS.brevo.contacts;
  }

  async step(operation: ChunkOperation, rawState: DeliveryState, options: StepOptions = {}): Promise<StepResult> {
    const state = parseState(rawState);
    const listId = listIdOf(operation.target);
    switch (state.phase) {
      case 'import': {
        if (operation.kind !== 'upsert') throw mismatch(state.phase, operation.kind);
        return this.startImport(listId, operation.records, state.failures, options);
      }
      case 'status':
        return this.readStatus(state, options);
      case 'invalid-emails': {
        if (operation.kind !== 'upsert') throw mismatch(state.phase, operation.kind);
        return this.readInvalidEmails(state, operation.records, options);
      }
      case 'remove': {
        if (operation.kind !== 'remove') throw mismatch(state.phase, operation.kind);
        await this.removeFromList(listId, operation.emails, options);
        return { kind: 'done', rejects: [] };
      }
    }
  }

  /** A record as an import row: attributes only for the fields with a Brevo name, none empty. */
  encode(record: MemberRecord): { email: string; attributes?: Record<string, string> } {
    const attributes: Record<string, string> = {};
    for (const [field, name] of this.attributes) {
      const value = record.fields[field];
      if (value !== undefined) attributes[name] = value;
    }
    return Object.keys(attributes).length === 0 ? { email: record.email } : { email: record.email, attributes };
  }

  private async startImport(listId: number, records: MemberRecord[], failures: number, options: StepOptions): Promise<StepResult> {
    const { data } = await this.http.request(
      {
        method: 'POST',
        path: '/contacts/import',
        json: {
          listIds: [listId],
          updateExistingContacts: true,
          // An empty value must never wipe an attribute the contact already has.
          emptyContactsAttributes: false,
          disableNotification: true,
          ...(options.notifyUrl === undefined ? {} : { notifyUrl: options.notifyUrl }),
          jsonBody: records.map((record) => this.encode(record)),
        },
        schema: importedSchema,
        bucket: BUCKETS.brevo.contacts,
        maxBodyBytes: MAX_IMPORT_BODY_BYTES,
      },
      options,
    );
    const notify = options.notifyUrl !== undefined;
    const next: BrevoState = { phase: 'status', processId: data.processId, notify, polls: 0, failures };
    return { kind: 'next', state: next, notBeforeMs: this.statusWaitMs(notify) };
  }

  private async readStatus(state: Extract<BrevoState, { phase: 'status' }>, options: StepOptions): Promise<StepResult> {
    const { data } = await this.http.request(
      { method: 'GET', path: `/processes/${state.processId}`, schema: processSchema, bucket: BUCKETS.brevo.other },
      options,
    );
    if (data.status === 'queued' || data.status === 'in_process') {
      const next: BrevoState = { ...state, polls: state.polls + 1 };
      return { kind: 'next', state: next, notBeforeMs: this.statusWaitMs(state.notify) };
    }
    if (data.status === 'failed' && state.failures + 1 < MAX_IMPORT_FAILURES) {
      const next: BrevoState = { phase: 'import', failures: state.failures + 1 };
      return { kind: 'next', state: next };
    }
    if (data.status === 'failed') {
      throw new ProviderPermanentError({
        provider: this.provider,
        operation: 'GET /processes/{processId}',
        providerCode: 'import_failed',
        providerMessage: `import process ${state.processId} failed (${MAX_IMPORT_FAILURES} imports of this chunk failed)`,
      });
    }
    const url = data.info?.import?.invalid_emails;
    if (url === undefined || url === null || url === '') return { kind: 'done', rejects: [] };
    const next: BrevoState = { phase: 'invalid-emails', processId: state.processId, url };
    return { kind: 'next', state: next };
  }

  private async readInvalidEmails(
    state: Extract<BrevoState, { phase: 'invalid-emails' }>,
    records: MemberRecord[],
    options: StepOptions,
  ): Promise<StepResult> {
    const { data } = await this.http.request(
      { method: 'GET', path: state.url, schema: z.string(), responseType: 'text', bucket: BUCKETS.brevo.files },
      options,
    );
    const index = new EmailIndex(records.map((record) => record.email));
    return { kind: 'done', rejects: rejectsFor(index, [{ emails: parseEmailCsv(data), reason: 'Brevo rejected the email address as invalid' }]) };
  }

  private async removeFromList(listId: number, emails: string[], options: StepOptions): Promise<void> {
    await this.http.request(
      {
        method: 'POST',
        path: `/contacts/lists/${listId}/contacts/remove`,
        json: { emails },
        schema: removedSchema,
        bucket: BUCKETS.brevo.contacts,
        maxBodyBytes: MAX_OTHER_BODY_BYTES,
        // Every email already out of the list (or unknown), or the list itself gone: the removal holds.
        recover: ({ statusCode, body }) => (isAlreadyRemoved(statusCode, body) ? {} : undefined),
      },
      options,
    );
  }

  private statusWaitMs(notify: boolean): number {
    return notify ? this.notifyFallbackMs : this.pollIntervalMs;
  }

  readonly deleteBucket = BUCKETS.brevo.contacts;

  /**
   * Deletes the contact (`DELETE /v3/contacts/{email}?identifierType=email_id`, Brevo's documented
   * contact deletion, answered 204); 404 `document_not_found` means it is already gone.
   */
  async deleteContact(email: string, options: ProviderCallOptions = {}): Promise<'deleted' | 'absent'> {
    let absent = false;
    await this.http.request(
      {
        method: 'DELETE',
        path: `/contacts/${encodeURIComponent(email)}`,
        query: { identifierType: 'email_id' },
        schema: z.unknown(),
        bucket: BUCKETS.brevo.contacts,
        recover: ({ statusCode }) => {
          absent = statusCode === 404;
          return absent ? {} : undefined;
        },
      },
      options,
    );
    return absent ? 'absent' : 'deleted';
  }
}

const brevoErrorSchema = z.looseObject({ code: z.string().optional(), message: z.string().optional() });

/** Brevo's "Contact already in list and/or does not exist" (400) and a list that no longer exists (404). */
export function isAlreadyRemoved(statusCode: number, body: unknown): boolean {
  const error = brevoErrorSchema.safeParse(body);
  if (!error.success) return false;
  if (statusCode === 404) return error.data.code === 'document_not_found';
  return (
    statusCode === 400 &&
    error.data.code === 'invalid_parameter' &&
    /already in list|does not exist|not exist/i.test(error.data.message ?? '')
  );
}

/** The invalid-email CSV: a header line, then one email per line (first column, maybe quoted). */
export function parseEmailCsv(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => (line.split(/[,;]/)[0] ?? '').trim().replace(/^"(.*)"$/, '$1').trim())
    .filter((cell, index) => cell !== '' && !(index === 0 && !cell.includes('@')));
}

function resolveAttributes(overrides: BrevoAttributeNames | undefined): Array<[MappedField, string]> {
  const merged: Partial<Record<MappedField, string | null>> = { ...DEFAULT_BREVO_ATTRIBUTES, ...overrides };
  const resolved = Object.entries(merged).filter((entry): entry is [MappedField, string] => typeof entry[1] === 'string');
  const bad = resolved.filter(([, name]) => !/^[A-Z0-9_]+$/.test(name));
  if (bad.length > 0) {
    throw Errors.validationFailed('Brevo attribute names', {
      details: { problems: bad.map(([field, name]) => `${field}: '${name}' is not an upper-case Brevo attribute name (A-Z, 0-9, _)`) },
    });
  }
  return resolved;
}

function parseState(state: DeliveryState): BrevoState {
  const parsed = stateSchema.safeParse(state);
  if (!parsed.success) throw new Error(`Not a Brevo delivery state: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function listIdOf(target: Target): number {
  if (target.provider !== 'brevo') throw new Error(`A Brevo adapter cannot deliver to a ${target.provider} target`);
  return target.listId;
}

function mismatch(phase: string, kind: string): Error {
  return new Error(`Brevo delivery state '${phase}' does not belong to a ${kind} chunk`);
}
