import { isIP } from 'node:net';
import { z } from 'zod';
import { Errors } from '../../errors';
import { isProviderErrorKind, ProviderPermanentError, ProviderTransientError } from '../errors';
import type { ProviderHttpClient } from '../http';
import { BUCKETS } from '../limits';
import { EmailIndex, maxChunkBytes, maxUpsertOverheadBytes, rejectsFor } from '../records';
import { parseReportEmails, reportReason, reportUrls } from './reports';
import type {
  ChunkLimits,
  ChunkOperation,
  DeliveryState,
  MappedField,
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
 * Brevo: upserts go through the asynchronous bulk import (one request per chunk of up to 8 MB),
 * then the import process is read (in the 100/hour bucket: woken by `notifyUrl` when the app has a
 * public URL, else polled at most once a minute), then every report the process names (invalid
 * emails, each kind of duplicate) gives the rejects. Removals take members out of the list only,
 * 150 per request; "already removed" is success.
 *
 * An import is never posted blind a second time: before it, the newest process id is noted (the
 * watermark); when the answer to the import is lost (timeout, reset, 5xx), the processes started
 * since are listed: none proves the import did not start (it is posted again), exactly one is
 * ours and is followed. Several (another import of the account started meanwhile) cannot be told
 * apart: the import is posted again, an upsert, and its own process is followed.
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
/** "Get contacts in a list": at most 500 contacts per page. */
const LIST_CONTACTS_PAGE_SIZE = 500;

/** Imports whose answer was lost (none started) before the chunk is left to the delivery policy's backoff. */
const MAX_LOST_IMPORTS = 4;
/** How many of the newest processes are listed to find an import whose answer was lost. */
const FIND_LIMIT = 50;

/** Every status Brevo documents for a process. */
const PROCESS_STATUSES = ['queued', 'processing', 'in_process', 'completed', 'failed', 'cancelled'] as const;
const RUNNING_STATUSES: ReadonlySet<string> = new Set(['queued', 'processing', 'in_process']);

const importedSchema = z.looseObject({ processId: z.number().int() });
const processSchema = z.looseObject({
  id: z.number().int().optional(),
  name: z.string().optional(),
  status: z.enum(PROCESS_STATUSES),
  info: z.looseObject({ import: z.record(z.string(), z.unknown()).optional() }).nullish(),
});
const processesSchema = z.looseObject({
  processes: z.array(z.looseObject({ id: z.number().int(), name: z.string().optional(), status: z.string().optional() })).nullish(),
});
const listSchema = z.looseObject({ id: z.number().int() });
/** A contact may have no email (an SMS-only contact). */
const listContactsSchema = z.looseObject({
  contacts: z.array(z.looseObject({ email: z.string().nullish() })).nullish(),
  count: z.number().int().nonnegative().optional(),
});
const offsetCursorSchema = z.string().regex(/^\d+$/).transform(Number);
const removedSchema = z.looseObject({
  contacts: z.looseObject({ success: z.array(z.string()).optional(), failure: z.array(z.string()).optional() }).optional(),
});

const counts = {
  /** Imports of this chunk that Brevo ended `failed` (the import is posted again). */
  failures: z.number().int().nonnegative().default(0),
  /** Imports of this chunk whose answer was lost. */
  lost: z.number().int().nonnegative().default(0),
};
const stateSchema = z.discriminatedUnion('phase', [
  /** Note the newest process id before importing (the watermark). */
  z.object({ phase: z.literal('mark'), ...counts }),
  /** `afterProcessId`: the watermark; absent in states saved before there was one. */
  z.object({ phase: z.literal('import'), afterProcessId: z.number().int().optional(), ...counts }),
  /** The answer to the import was lost: look for a process started after the watermark. */
  z.object({ phase: z.literal('find'), afterProcessId: z.number().int(), ...counts }),
  z.object({
    phase: z.literal('status'),
    processId: z.number().int(),
    notify: z.boolean(),
    polls: z.number().int(),
    failures: z.number().int().nonnegative().default(0),
  }),
  /** Read every report of the finished process (files off the API host, in one step). */
  z.object({ phase: z.literal('reports'), processId: z.number().int(), urls: z.array(z.tuple([z.string(), z.url({ protocol: /^https?$/ })])) }),
  /** Saved by an earlier version: the invalid-email report only. */
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
  readonly membersBucket = BUCKETS.brevo.contacts;

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

  /**
   * The list's contacts, 500 a page; the cursor is the next offset. Oldest first (`sort=asc`), so
   * that a contact created while the pages are read comes last instead of shifting every offset.
   */
  async readTargetMembers(target: Target, cursor: string | undefined, options: ProviderCallOptions = {}): Promise<MemberPage> {
    const listId = listIdOf(target);
    const offset = cursor === undefined ? 0 : offsetCursorSchema.parse(cursor);
    const { data } = await this.http.request(
      {
        method: 'GET',
        path: `/contacts/lists/${listId}/contacts`,
        query: { limit: LIST_CONTACTS_PAGE_SIZE, offset, sort: 'asc' },
        schema: listContactsSchema,
        bucket: BUCKETS.brevo.contacts,
      },
      options,
    );
    const contacts = data.contacts ?? [];
    const emails = contacts.flatMap((contact) => (contact.email ? [contact.email.trim().toLowerCase()] : []));
    const next = offset + contacts.length;
    const last = contacts.length < LIST_CONTACTS_PAGE_SIZE || (data.count !== undefined && next >= data.count);
    return last ? { emails } : { emails, cursor: String(next) };
  }

  start(operation: ChunkOperation): DeliveryState {
    const state: BrevoState = operation.kind === 'upsert' ? { phase: 'mark', failures: 0, lost: 0 } : { phase: 'remove' };
    return state;
  }

  nextBucket(_operation: ChunkOperation, state: DeliveryState): string {
    const phase = parseState(state).phase;
    if (phase === 'status' || phase === 'mark' || phase === 'find') return BUCKETS.brevo.other;
    // The reports are files off the API host: they draw from no API budget.
    if (phase === 'reports' || phase === 'invalid-emails') return BUCKETS.brevo.files;
    return BUCKETS.brevo.contacts;
  }

  async step(operation: ChunkOperation, rawState: DeliveryState, options: StepOptions = {}): Promise<StepResult> {
    const state = parseState(rawState);
    const listId = listIdOf(operation.target);
    switch (state.phase) {
      case 'mark':
        return this.markProcesses(state, options);
      case 'import': {
        if (operation.kind !== 'upsert') throw mismatch(state.phase, operation.kind);
        return this.startImport(listId, operation.records, state, options);
      }
      case 'find':
        return this.findImport(state, options);
      case 'status':
        return this.readStatus(state, options);
      case 'reports':
      case 'invalid-emails': {
        if (operation.kind !== 'upsert') throw mismatch(state.phase, operation.kind);
        const urls = state.phase === 'reports' ? state.urls : [['invalid_emails', state.url] as [string, string]];
        return { kind: 'done', rejects: await this.readReports(urls, operation.records, options) };
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

  /** The body of an import: declared against Brevo's SDK types in `test/contract/brevo-sdk.test.ts`. */
  importBody(listId: number, records: readonly MemberRecord[], notifyUrl: string | undefined) {
    return {
      listIds: [listId],
      updateExistingContacts: true,
      // An empty value must never wipe an attribute the contact already has.
      emptyContactsAttributes: false,
      disableNotification: true,
      ...(notifyUrl === undefined ? {} : { notifyUrl }),
      jsonBody: records.map((record) => this.encode(record)),
    };
  }

  /** The watermark: the newest process id before this chunk's import (0 when the account has none). */
  private async markProcesses(state: Extract<BrevoState, { phase: 'mark' }>, options: StepOptions): Promise<StepResult> {
    const newest = await this.listProcesses(1, options);
    const next: BrevoState = { phase: 'import', afterProcessId: Math.max(0, ...newest.map((process) => process.id)), failures: state.failures, lost: state.lost };
    return { kind: 'next', state: next };
  }

  private async startImport(listId: number, records: MemberRecord[], state: Extract<BrevoState, { phase: 'import' }>, options: StepOptions): Promise<StepResult> {
    let processId: number;
    try {
      const { data } = await this.http.request(
        {
          method: 'POST',
          path: '/contacts/import',
          json: this.importBody(listId, records, options.notifyUrl),
          schema: importedSchema,
          bucket: BUCKETS.brevo.contacts,
          maxBodyBytes: MAX_IMPORT_BODY_BYTES,
          // A second post after a lost answer would start a second process: the adapter looks first.
          idempotent: false,
        },
        options,
      );
      processId = data.processId;
    } catch (error) {
      if (!isProviderErrorKind(error, 'transient') || state.afterProcessId === undefined) throw error;
      const next: BrevoState = { phase: 'find', afterProcessId: state.afterProcessId, failures: state.failures, lost: state.lost + 1 };
      // Let the process show before looking for it.
      return { kind: 'next', state: next, notBeforeMs: Math.min(this.pollIntervalMs, 5_000) };
    }
    return this.follow(processId, options.notifyUrl !== undefined, state.failures);
  }

  /** The import's answer was lost: the processes started since the watermark say whether it started. */
  private async findImport(state: Extract<BrevoState, { phase: 'find' }>, options: StepOptions): Promise<StepResult> {
    const started = (await this.listProcesses(FIND_LIMIT, options)).filter(
      (process) => process.id > state.afterProcessId && (process.name === undefined || process.name === 'IMPORTUSER'),
    );
    if (started.length === 1) return this.follow(started[0]!.id, options.notifyUrl !== undefined, state.failures);
    if (started.length === 0 && state.lost >= MAX_LOST_IMPORTS) {
      // Brevo keeps losing the answer: back off through the delivery policy, looking again each time.
      throw new ProviderTransientError({
        provider: this.provider,
        operation: 'POST /contacts/import',
        providerCode: 'import_unanswered',
        providerMessage: `${state.lost} imports of this chunk got no answer, and none of them started a process`,
      });
    }
    // None started (posting again is safe), or several that cannot be told apart (an upsert again, followed itself).
    const afterProcessId = Math.max(state.afterProcessId, ...started.map((process) => process.id));
    const next: BrevoState = { phase: 'import', afterProcessId, failures: state.failures, lost: state.lost };
    return { kind: 'next', state: next };
  }

  private follow(processId: number, notify: boolean, failures: number): StepResult {
    const next: BrevoState = { phase: 'status', processId, notify, polls: 0, failures };
    return { kind: 'next', state: next, notBeforeMs: this.statusWaitMs(notify) };
  }

  private async listProcesses(limit: number, options: StepOptions): Promise<Array<{ id: number; name?: string }>> {
    const { data } = await this.http.request(
      { method: 'GET', path: '/processes', query: { limit, offset: 0, sort: 'desc' }, schema: processesSchema, bucket: BUCKETS.brevo.other },
      options,
    );
    return data.processes ?? [];
  }

  private async readStatus(state: Extract<BrevoState, { phase: 'status' }>, options: StepOptions): Promise<StepResult> {
    const { data } = await this.http.request(
      { method: 'GET', path: `/processes/${state.processId}`, schema: processSchema, bucket: BUCKETS.brevo.other },
      options,
    );
    if (RUNNING_STATUSES.has(data.status)) {
      const next: BrevoState = { ...state, polls: state.polls + 1 };
      return { kind: 'next', state: next, notBeforeMs: this.statusWaitMs(state.notify) };
    }
    if (data.status === 'failed' && state.failures + 1 < MAX_IMPORT_FAILURES) {
      const next: BrevoState = { phase: 'mark', failures: state.failures + 1, lost: 0 };
      return { kind: 'next', state: next };
    }
    if (data.status === 'failed' || data.status === 'cancelled') throw this.processEnded(state.processId, data.status);
    const urls = reportUrls(data.info?.import);
    if (urls.length === 0) return { kind: 'done', rejects: [] };
    const next: BrevoState = { phase: 'reports', processId: state.processId, urls };
    return { kind: 'next', state: next };
  }

  /** A failed import, too often, or one cancelled in Brevo (not ours to post again): the chunk fails. */
  private processEnded(processId: number, status: 'failed' | 'cancelled'): ProviderPermanentError {
    const why = status === 'failed' ? `failed (${MAX_IMPORT_FAILURES} imports of this chunk failed)` : 'was cancelled in Brevo';
    return new ProviderPermanentError({
      provider: this.provider,
      operation: 'GET /processes/{processId}',
      providerCode: status === 'failed' ? 'import_failed' : 'import_cancelled',
      providerMessage: `import process ${processId} ${why}`,
    });
  }

  /** Every report of the process; the files are off the API host and unlimited, so they are read in one step. */
  private async readReports(urls: ReadonlyArray<readonly [string, string]>, records: MemberRecord[], options: StepOptions): Promise<RecordReject[]> {
    const groups: Array<{ emails: string[]; reason: string }> = [];
    for (const [kind, url] of urls) {
      assertBrevoReportUrl(url, this.http.url('/'));
      const { data } = await this.http.request({ method: 'GET', path: url, schema: z.string(), responseType: 'text', bucket: BUCKETS.brevo.files }, options);
      groups.push({ emails: parseReportEmails(data), reason: reportReason(kind) });
    }
    return rejectsFor(new EmailIndex(records.map((record) => record.email)), groups);
  }

  private async removeFromList(listId: number, emails: string[], options: StepOptions): Promise<void> {
    await this.http.request(
      {
        method: 'POST',
        path: `/contacts/lists/${listId}/contacts/remove`,
        json: removeBody(emails),
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

/** The body of a removal (emails only, never `ids` or `all`): declared against Brevo's SDK types in `test/contract/brevo-sdk.test.ts`. */
export function removeBody(emails: readonly string[]): { emails: string[] } {
  return { emails: [...emails] };
}

/**
 * Brevo's own domains, where its report files are served. Brevo's documentation gives report URLs
 * without naming their host (unconfirmed): these are the domains Brevo and Sendinblue operate.
 */
export const BREVO_REPORT_DOMAINS = ['brevo.com', 'sendinblue.com'] as const;

/**
 * A report URL comes from the provider's answer, so it is fetched only when it is https on one of
 * Brevo's domains (never an IP literal), or on the configured API origin itself (`BREVO_BASE_URL`:
 * the emulators). Anything else is a permanent error before any request.
 */
export function assertBrevoReportUrl(url: string, apiBase: URL): void {
  const refuse = (why: string): never => {
    throw new ProviderPermanentError({
      provider: 'brevo',
      operation: 'GET report',
      providerCode: 'report_url_refused',
      providerMessage: `the report URL was not fetched: ${why}`,
      attempts: 0,
    });
  };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse('it is not a URL');
  }
  if (parsed.origin === apiBase.origin) return;
  if (parsed.protocol !== 'https:') refuse(`${parsed.protocol.replace(/:$/, '')} is not https`);
  if (parsed.username !== '' || parsed.password !== '') refuse('it carries credentials');
  const host = parsed.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (isIP(host) !== 0) refuse(`${host} is an IP address`);
  if (!BREVO_REPORT_DOMAINS.some((domain) => host === domain || host.endsWith(`.${domain}`))) refuse(`${host} is not a Brevo host`);
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

/** A report CSV: a header line, then one record per line (see `reports.ts`). */
export const parseEmailCsv = parseReportEmails;

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

/**
 * Where a chunk's delivery stands for its import webhook: the next step posts an import, the chunk
 * waits for import `processId` to end, or it is past both (reading the report, removing).
 */
export type BrevoImportStage = { stage: 'import' } | { stage: 'awaiting'; processId: number } | { stage: 'after' };

export function brevoImportStage(state: DeliveryState | undefined): BrevoImportStage {
  if (state === undefined) return { stage: 'import' };
  const parsed = stateSchema.safeParse(state);
  if (!parsed.success) return { stage: 'after' };
  if (parsed.data.phase === 'import') return { stage: 'import' };
  if (parsed.data.phase === 'status') return { stage: 'awaiting', processId: parsed.data.processId };
  return { stage: 'after' };
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
