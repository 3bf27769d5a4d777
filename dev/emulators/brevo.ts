import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { ContactIds, listContactsReply } from './brevo-list-contacts';
import { BaseEmulator } from './kit/base';
import { emailKey } from './kit/email';
import { resolveCommonOptions, type CommonEmulatorOptions, type ResolvedCommonOptions } from './kit/options';
import type { RateLimit } from './kit/rate-limits';
import type { ProviderProtocol, Reply, RequestContext, Route } from './kit/server';
import { describeIssues, fieldIssues } from './kit/validation';

export interface BrevoEmulatorOptions extends CommonEmulatorOptions {
  /** Bucket `contacts` (every `/v3/contacts/*` call): default 10/s and 36,000/h. */
  contactsRateLimits?: RateLimit[];
  /** Bucket `other` (every other endpoint): default 100/h. */
  otherRateLimits?: RateLimit[];
  /** Default 10 MiB; larger import bodies are answered 413. */
  maxImportBodyBytes?: number;
  /** Emails per add/remove call: default 150. */
  maxListEmails?: number;
  /** Attributes the account defines; the others are ignored like Brevo does. */
  knownAttributes?: readonly string[];
  /** Lists that exist from the start (and after `reset()`): default `[{ id: 2, name: 'Your first list' }]`. */
  lists?: ReadonlyArray<{ id?: number; name: string }>;
  /** How long the POST to an import's `notifyUrl` may take: default 5 s. */
  notifyTimeoutMs?: number;
  /** What a started process reports while it runs: Brevo documents both `in_process` and `processing`. Default `in_process`. */
  runningStatus?: 'in_process' | 'processing';
  /**
   * SMS numbers are unique per contact (Brevo's documented behaviour): a row whose SMS belongs to
   * another contact is not imported and is listed in `duplicate_phone_id`. Default true.
   */
  uniqueSms?: boolean;
}

export interface BrevoList {
  id: number;
  name: string;
  folderId: number;
  createdAt: number;
  /** Lower-cased emails. */
  members: Set<string>;
}

export interface ImportFlags {
  updateExistingContacts: boolean | undefined;
  emptyContactsAttributes: boolean | undefined;
  disableNotification: boolean | undefined;
  emailBlacklist: boolean | undefined;
  smsBlacklist: boolean | undefined;
}

export type BrevoProcessStatus = 'queued' | 'processing' | 'in_process' | 'completed' | 'failed' | 'cancelled';

/** The reports a finished import names in `info.import` (every one Brevo's Node SDK declares). */
export const BREVO_REPORT_KINDS = [
  'invalid_emails',
  'duplicate_contact_id',
  'duplicate_ext_id',
  'duplicate_email_id',
  'duplicate_phone_id',
  'duplicate_whatsapp_id',
  'duplicate_landline_number_id',
] as const;
export type BrevoReportKind = (typeof BREVO_REPORT_KINDS)[number];
/** A report's rows: the email, and the value that clashed (for duplicates). */
export type BrevoReportRows = Partial<Record<BrevoReportKind, Array<{ email: string; value?: string }>>>;

export interface BrevoProcess {
  id: number;
  status: BrevoProcessStatus;
  createdAt: number;
  /** Epoch ms from which a queued process reports `in_process`. */
  inProcessAt: number;
  finishedAt?: number;
  listIds: number[];
  flags: ImportFlags;
  rowCount: number;
  notifyUrl?: string;
  /** Set when the process ends. */
  invalidEmails?: string[];
  /** Every report of the finished process (invalid emails included). */
  reports?: BrevoReportRows;
  /** The outcome of the POST to `notifyUrl`. */
  notification?: { status?: number; error?: string; at: number };
}

export interface BrevoState {
  lists: Map<number, BrevoList>;
  /** Lower-cased email -> attributes (empty objects when `retainAttributes` is off). */
  contacts: Map<string, Record<string, unknown>>;
  /** Contacts deleted through `DELETE /v3/contacts/{identifier}`. */
  deletedContacts: Set<string>;
  /** Contacts blacklisted by `emailBlacklist: true`: must stay empty. */
  blacklisted: Set<string>;
  processes: Map<number, BrevoProcess>;
  /** Attribute name -> how many rows carried it although the account does not define it. */
  ignoredAttributes: Map<string, number>;
  counters: { importedRows: number; invalidImportEmails: number; addedToLists: number; removedFromLists: number };
}

type ImportRow = { email: string; attributes?: Record<string, unknown> | undefined };

const MiB = 1024 * 1024;
const processListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(50).default(10),
  offset: z.coerce.number().int().min(0).default(0),
  sort: z.enum(['asc', 'desc']).default('desc'),
});
const DEFAULT_ATTRIBUTES = ['FIRSTNAME', 'LASTNAME', 'SMS', 'ADDRESS', 'CITY', 'COUNTRY', 'ZIP', 'POSTCODE'];
const NO_ATTRIBUTES: Record<string, unknown> = Object.freeze({});

function schemas(strict: boolean, maxListEmails: number) {
  const object = strict ? z.strictObject : z.looseObject;
  const flag = strict ? z.boolean() : z.boolean().optional();
  const attributeName = strict ? z.string().regex(/^[A-Z0-9_]+$/, 'attribute names are upper case') : z.string();
  const row = object({
    email: z.string(),
    attributes: z.record(attributeName, z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  });
  return {
    createList: object({ name: z.string().min(1), folderId: z.number().int().positive() }),
    import: object({
      listIds: z.array(z.number().int().positive()).min(1),
      updateExistingContacts: flag,
      emptyContactsAttributes: flag,
      disableNotification: flag,
      notifyUrl: z.url().optional(),
      jsonBody: z.array(row).min(1),
      emailBlacklist: z.boolean().optional(),
      smsBlacklist: z.boolean().optional(),
    }),
    listEmails: object({ emails: z.array(z.string()).min(1).max(maxListEmails) }),
  };
}

function normalizeSms(sms: string): string {
  return sms.replace(/[^\d+]/g, '');
}

function brevoError(status: number, code: string, message: string): Reply {
  return { status, body: { code, message } };
}

function invalid(error: z.ZodError): Reply {
  const issues = fieldIssues(error);
  const missing = issues.some((issue) => issue.code === 'required');
  return brevoError(400, missing ? 'missing_parameter' : 'invalid_parameter', describeIssues(issues));
}

const PROTOCOL: ProviderProtocol = {
  readCredential: (headers: IncomingHttpHeaders) => {
    const value = headers['api-key'];
    return typeof value === 'string' ? value : undefined;
  },
  unauthorized: () => brevoError(401, 'unauthorized', 'Key not found'),
  notFound: () => brevoError(404, 'not_found', 'Route not found'),
  rateLimited: () => brevoError(429, 'too_many_requests', 'The expected rate limit is exceeded.'),
  serverError: (status) =>
    status === 503
      ? brevoError(503, 'service_unavailable', 'Service temporarily unavailable')
      : brevoError(500, 'internal_error', 'Internal server error'),
  badJson: (message) => brevoError(400, 'bad_request', `Input must be a valid JSON object: ${message}`),
  unsupportedMediaType: () => brevoError(400, 'bad_request', 'content-type must be application/json'),
  tooLarge: (limitBytes) => brevoError(413, 'invalid_parameter', `Request body too large: the limit is ${limitBytes} bytes`),
  rateHeaders: (status) => ({
    'x-sib-ratelimit-limit': String(status.limit),
    'x-sib-ratelimit-remaining': String(status.remaining),
    'x-sib-ratelimit-reset': String(Math.ceil(status.resetInMs / 1000)),
  }),
  rateScope: () => 'account',
};

/** Brevo's account, list, import, process and list-membership endpoints (`/v3`), see README.md. */
export class BrevoEmulator extends BaseEmulator {
  readonly provider = 'brevo' as const;
  readonly state: BrevoState = {
    lists: new Map(),
    contacts: new Map(),
    deletedContacts: new Set(),
    blacklisted: new Set(),
    processes: new Map(),
    ignoredAttributes: new Map(),
    counters: { importedRows: 0, invalidImportEmails: 0, addedToLists: 0, removedFromLists: 0 },
  };
  private readonly common: ResolvedCommonOptions;
  private readonly initialLists: ReadonlyArray<{ id?: number; name: string }>;
  private readonly knownAttributes: ReadonlySet<string>;
  private readonly maxListEmails: number;
  private readonly notifyTimeoutMs: number;
  private readonly runningStatus: 'in_process' | 'processing';
  private readonly uniqueSms: boolean;
  private readonly schemas: ReturnType<typeof schemas>;
  private readonly contactIds = new ContactIds();
  private nextListId = 1;
  private nextProcessId = 1;
  /** Normalised SMS number -> the contact holding it, and back. */
  private readonly smsOwners = new Map<string, string>();
  private readonly smsOf = new Map<string, string>();

  constructor(options: BrevoEmulatorOptions = {}) {
    super('/v3');
    this.common = resolveCommonOptions('brevo', options);
    this.initialLists = options.lists ?? [{ id: 2, name: 'Your first list' }];
    this.knownAttributes = new Set(options.knownAttributes ?? DEFAULT_ATTRIBUTES);
    this.maxListEmails = options.maxListEmails ?? 150;
    this.notifyTimeoutMs = options.notifyTimeoutMs ?? 5000;
    this.runningStatus = options.runningStatus ?? 'in_process';
    this.uniqueSms = options.uniqueSms ?? true;
    this.schemas = schemas(this.common.strictContract, this.maxListEmails);
    const contacts = ['contacts'];
    const other = ['other'];
    const routes: Route[] = [
      { method: 'GET', path: '/v3/account', buckets: other, handle: () => this.account() },
      { method: 'GET', path: '/v3/contacts/lists/{listId}', buckets: contacts, handle: (context) => this.getList(context) },
      { method: 'GET', path: '/v3/contacts/lists/{listId}/contacts', buckets: contacts, handle: (context) => this.listContactsRoute(context) },
      { method: 'POST', path: '/v3/contacts/lists', buckets: contacts, hasBody: true, handle: (context) => this.createListRoute(context) },
      {
        method: 'POST',
        path: '/v3/contacts/import',
        buckets: contacts,
        hasBody: true,
        maxBodyBytes: options.maxImportBodyBytes ?? 10 * MiB,
        handle: (context) => this.importContacts(context),
      },
      { method: 'GET', path: '/v3/processes', buckets: other, handle: (context) => this.listProcesses(context) },
      { method: 'GET', path: '/v3/processes/{processId}', buckets: other, handle: (context) => this.getProcess(context) },
      {
        method: 'POST',
        path: '/v3/contacts/lists/{listId}/contacts/remove',
        buckets: contacts,
        hasBody: true,
        handle: (context) => this.changeMembership(context, 'remove'),
      },
      {
        method: 'POST',
        path: '/v3/contacts/lists/{listId}/contacts/add',
        buckets: contacts,
        hasBody: true,
        handle: (context) => this.changeMembership(context, 'add'),
      },
      { method: 'DELETE', path: '/v3/contacts/{identifier}', buckets: contacts, handle: (context) => this.deleteContactRoute(context) },
      { method: 'GET', path: '/files/processes/{processId}/{report}', public: true, handle: (context) => this.reportCsv(context) },
    ];
    this.setUp({
      options: this.common,
      buckets: [
        { name: 'contacts', limits: options.contactsRateLimits ?? [{ requests: 10, windowMs: 1000 }, { requests: 36_000, windowMs: 3_600_000 }] },
        { name: 'other', limits: options.otherRateLimits ?? [{ requests: 100, windowMs: 3_600_000 }] },
      ],
      defaultMaxBodyBytes: MiB,
      protocol: PROTOCOL,
      routes,
    });
    this.createInitialLists();
  }

  createList(name: string, id?: number): number {
    const listId = id ?? this.nextListId;
    if (this.state.lists.has(listId)) throw new Error(`Brevo list ${listId} already exists`);
    this.nextListId = Math.max(this.nextListId, listId + 1);
    this.state.lists.set(listId, { id: listId, name, folderId: 1, createdAt: Date.now(), members: new Set() });
    return listId;
  }

  /** The "missing list" fault. */
  deleteList(listId: number): boolean {
    return this.state.lists.delete(listId);
  }

  listMembers(listId: number): string[] {
    return [...(this.state.lists.get(listId)?.members ?? [])];
  }

  /**
   * Contacts that were in a list before any export touched it (tests of what an export must never
   * remove): created when missing, with their attributes, and added to the list in order.
   */
  seedListMembers(listId: number, members: ReadonlyArray<string | { email: string; attributes?: Record<string, unknown> }>): void {
    const list = this.state.lists.get(listId);
    if (!list) throw new Error(`Brevo list ${listId} does not exist`);
    for (const member of members) {
      const { email, attributes } = typeof member === 'string' ? { email: member, attributes: undefined } : member;
      const key = emailKey(email);
      if (!this.state.contacts.has(key)) this.state.contacts.set(key, { ...attributes });
      list.members.add(key);
    }
  }

  invalidEmailsCsvUrl(processId: number): string {
    return this.reportUrl(processId, 'invalid_emails');
  }

  reportUrl(processId: number, kind: BrevoReportKind): string {
    return `${this.origin}/files/processes/${processId}/${kind}.csv`;
  }

  /** A contact made in Brevo by someone else (its SMS number then belongs to it). */
  addContact(email: string, attributes: Record<string, unknown> = {}): void {
    const key = emailKey(email);
    this.state.contacts.set(key, { ...attributes });
    this.holdSms(key, attributes.SMS, true);
  }

  /** Someone cancels a process in Brevo before it ends: nothing of it is applied. */
  cancelProcess(processId: number): boolean {
    const process = this.state.processes.get(processId);
    if (!process || process.finishedAt !== undefined) return false;
    process.status = 'cancelled';
    process.finishedAt = Date.now();
    return true;
  }

  private createInitialLists(): void {
    for (const list of this.initialLists) this.createList(list.name, list.id);
  }

  protected clearState(): void {
    const { state } = this;
    state.lists.clear();
    state.contacts.clear();
    state.deletedContacts.clear();
    state.blacklisted.clear();
    state.processes.clear();
    state.ignoredAttributes.clear();
    this.contactIds.clear();
    this.smsOwners.clear();
    this.smsOf.clear();
    state.counters = { importedRows: 0, invalidImportEmails: 0, addedToLists: 0, removedFromLists: 0 };
    this.nextListId = 1;
    this.nextProcessId = 1;
    this.createInitialLists();
  }

  protected providerSummary(): Record<string, unknown> {
    const processesByStatus: Record<string, number> = {};
    for (const process of this.state.processes.values()) {
      const status = this.statusOf(process);
      processesByStatus[status] = (processesByStatus[status] ?? 0) + 1;
    }
    const recent = [...this.state.processes.values()].slice(-20).map((process) => ({
      id: process.id,
      status: this.statusOf(process),
      rowCount: process.rowCount,
      invalidEmails: process.invalidEmails?.length ?? null,
      flags: process.flags,
      notified: process.notification ?? null,
    }));
    return {
      lists: [...this.state.lists.values()].slice(0, 1000).map((list) => ({ id: list.id, name: list.name, memberCount: list.members.size })),
      contacts: this.state.contacts.size,
      blacklisted: this.state.blacklisted.size,
      processes: { total: this.state.processes.size, byStatus: processesByStatus, recent },
      ignoredAttributes: Object.fromEntries(this.state.ignoredAttributes),
      counters: this.state.counters,
    };
  }

  private account(): Reply {
    return {
      status: 200,
      body: {
        email: 'emulator@example.com',
        firstName: 'Brevo',
        lastName: 'Emulator',
        companyName: 'segment-export emulator',
        address: { street: '', city: '', zipCode: '', country: '' },
        plan: [{ type: 'free', creditsType: 'sendLimit', credits: 300 }],
      },
    };
  }

  private listParam(context: RequestContext): BrevoList | Reply {
    const listId = Number(context.params[0]);
    const list = Number.isInteger(listId) ? this.state.lists.get(listId) : undefined;
    return list ?? brevoError(404, 'document_not_found', 'List ID does not exist');
  }

  private getList(context: RequestContext): Reply {
    const list = this.listParam(context);
    if (!('members' in list)) return list;
    const [smaller, larger] =
      list.members.size < this.state.blacklisted.size ? [list.members, this.state.blacklisted] : [this.state.blacklisted, list.members];
    let totalBlacklisted = 0;
    for (const email of smaller) if (larger.has(email)) totalBlacklisted += 1;
    return {
      status: 200,
      body: {
        id: list.id,
        name: list.name,
        folderId: list.folderId,
        totalSubscribers: list.members.size - totalBlacklisted,
        totalBlacklisted,
        uniqueSubscribers: list.members.size,
        createdAt: new Date(list.createdAt).toISOString(),
      },
    };
  }

  private listContactsRoute(context: RequestContext): Reply {
    const list = this.listParam(context);
    if (!('members' in list)) return list;
    return listContactsReply(list, context.query, this.state, this.contactIds);
  }

  private createListRoute(context: RequestContext): Reply {
    const parsed = this.schemas.createList.safeParse(context.body);
    if (!parsed.success) return invalid(parsed.error);
    const id = this.createList(parsed.data.name);
    const list = this.state.lists.get(id);
    if (list) list.folderId = parsed.data.folderId;
    return { status: 201, body: { id } };
  }

  private importContacts(context: RequestContext): Reply {
    const parsed = this.schemas.import.safeParse(context.body);
    if (!parsed.success) return invalid(parsed.error);
    const body = parsed.data;
    const missing = body.listIds.filter((listId) => !this.state.lists.has(listId));
    if (missing.length > 0) return brevoError(404, 'document_not_found', `List ID does not exist: ${missing.join(', ')}`);
    const now = Date.now();
    const delayMs = this.common.asyncDelayMs;
    const process: BrevoProcess = {
      id: this.nextProcessId,
      status: 'queued',
      createdAt: now,
      inProcessAt: now + delayMs / 2,
      listIds: body.listIds,
      flags: {
        updateExistingContacts: body.updateExistingContacts,
        emptyContactsAttributes: body.emptyContactsAttributes,
        disableNotification: body.disableNotification,
        emailBlacklist: body.emailBlacklist,
        smsBlacklist: body.smsBlacklist,
      },
      rowCount: body.jsonBody.length,
      notifyUrl: body.notifyUrl,
    };
    this.nextProcessId += 1;
    this.state.processes.set(process.id, process);
    const rows: ImportRow[] = body.jsonBody;
    this.server.schedule(delayMs, () => this.finishImport(process, rows));
    return { status: 202, body: { processId: process.id } };
  }

  private finishImport(process: BrevoProcess, rows: readonly ImportRow[]): void {
    if (this.state.processes.get(process.id) !== process || process.status === 'cancelled') return;
    if (this.server.faults.asyncFails()) {
      process.status = 'failed';
    } else {
      process.reports = this.applyImport(process, rows);
      process.invalidEmails = (process.reports.invalid_emails ?? []).map((row) => row.email);
      process.status = 'completed';
    }
    process.finishedAt = Date.now();
    if (process.notifyUrl) this.server.track(this.notify(process, process.notifyUrl));
  }

  /** Applies the rows that Brevo imports; answers the reports of the rows it did not. */
  private applyImport(process: BrevoProcess, rows: readonly ImportRow[]): BrevoReportRows {
    const { contacts, lists, blacklisted, ignoredAttributes } = this.state;
    const { flags } = process;
    const retain = this.common.retainAttributes;
    const targets = process.listIds.map((listId) => lists.get(listId)).filter((list) => list !== undefined);
    const reports: Required<Pick<BrevoReportRows, 'invalid_emails' | 'duplicate_email_id' | 'duplicate_phone_id'>> = {
      invalid_emails: [],
      duplicate_email_id: [],
      duplicate_phone_id: [],
    };
    const seen = new Set<string>();
    for (const row of rows) {
      if (this.common.isInvalidEmail(row.email)) {
        reports.invalid_emails.push({ email: row.email });
        continue;
      }
      const key = emailKey(row.email);
      if (seen.has(key)) {
        reports.duplicate_email_id.push({ email: row.email });
        continue;
      }
      seen.add(key);
      const sms = this.smsClash(key, row.attributes?.SMS);
      if (sms !== undefined) {
        reports.duplicate_phone_id.push({ email: row.email, value: sms });
        continue;
      }
      let attributes = contacts.get(key);
      const isNew = attributes === undefined;
      if (attributes === undefined) {
        attributes = retain ? {} : NO_ATTRIBUTES;
        contacts.set(key, attributes);
      }
      if (row.attributes) {
        const update = retain && (isNew || flags.updateExistingContacts !== false);
        for (const name in row.attributes) {
          if (!this.knownAttributes.has(name)) {
            ignoredAttributes.set(name, (ignoredAttributes.get(name) ?? 0) + 1);
            continue;
          }
          if (!update) continue;
          const value = row.attributes[name];
          if (value === '' || value === null) {
            if (flags.emptyContactsAttributes === true) delete attributes[name];
          } else {
            attributes[name] = value;
          }
        }
      }
      this.holdSms(key, row.attributes?.SMS, isNew || flags.updateExistingContacts !== false);
      for (const list of targets) list.members.add(key);
      if (flags.emailBlacklist === true) blacklisted.add(key);
    }
    const skipped = reports.invalid_emails.length + reports.duplicate_email_id.length + reports.duplicate_phone_id.length;
    this.state.counters.importedRows += rows.length - skipped;
    this.state.counters.invalidImportEmails += reports.invalid_emails.length;
    return reports;
  }

  /** The SMS number of a row when another contact holds it already (SMS is unique in Brevo). */
  private smsClash(key: string, sms: unknown): string | undefined {
    if (!this.uniqueSms || typeof sms !== 'string' || sms === '') return undefined;
    const owner = this.smsOwners.get(normalizeSms(sms));
    return owner !== undefined && owner !== key ? sms : undefined;
  }

  /** Keeps who holds which SMS number (kept even when attributes are not retained). */
  private holdSms(key: string, sms: unknown, update: boolean): void {
    if (!this.uniqueSms || typeof sms !== 'string' || sms === '') return;
    const previous = this.smsOf.get(key);
    if (previous !== undefined && !update) return;
    if (previous !== undefined) this.smsOwners.delete(previous);
    const normalized = normalizeSms(sms);
    this.smsOwners.set(normalized, key);
    this.smsOf.set(key, normalized);
  }

  /** Brevo's call to `notifyUrl` (its body is undocumented: clients must treat it as a signal). */
  private async notify(process: BrevoProcess, url: string): Promise<void> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ processId: process.id, status: process.status }),
        signal: AbortSignal.any([AbortSignal.timeout(this.notifyTimeoutMs), this.server.abortSignal]),
      });
      await response.arrayBuffer();
      process.notification = { status: response.status, at: Date.now() };
    } catch (error) {
      process.notification = { error: error instanceof Error ? error.message : String(error), at: Date.now() };
    }
  }

  private statusOf(process: BrevoProcess): BrevoProcessStatus {
    return process.status === 'queued' && Date.now() >= process.inProcessAt ? this.runningStatus : process.status;
  }

  private processParam(context: RequestContext): BrevoProcess | undefined {
    const processId = Number(context.params[0]);
    return Number.isInteger(processId) ? this.state.processes.get(processId) : undefined;
  }

  private getProcess(context: RequestContext): Reply {
    const process = this.processParam(context);
    if (!process) return brevoError(404, 'document_not_found', 'Process does not exist');
    return { status: 200, body: this.processView(process) };
  }

  /** `GET /v3/processes?limit&offset&sort`: newest first unless `sort=asc`; limit 1..50 (default 10). */
  private listProcesses(context: RequestContext): Reply {
    const parsed = processListQuery.safeParse(Object.fromEntries(context.query));
    if (!parsed.success) return invalid(parsed.error);
    const { limit, offset, sort } = parsed.data;
    const all = [...this.state.processes.values()];
    if (sort === 'desc') all.reverse();
    return { status: 200, body: { count: all.length, processes: all.slice(offset, offset + limit).map((process) => this.processView(process)) } };
  }

  /** `info` only for a completed import: every report the SDK declares, a URL or null. */
  private processView(process: BrevoProcess): Record<string, unknown> {
    const status = this.statusOf(process);
    const body: Record<string, unknown> = { id: process.id, name: 'IMPORTUSER', status };
    if (status === 'completed') {
      const reports = Object.fromEntries(
        BREVO_REPORT_KINDS.map((kind) => [kind, (process.reports?.[kind]?.length ?? 0) > 0 ? this.reportUrl(process.id, kind) : null]),
      );
      body.info = { import: reports };
    }
    return body;
  }

  /** A report file: a header line, then one row per record (`email`, and the clashing value of a duplicate). */
  private reportCsv(context: RequestContext): Reply {
    const process = this.processParam(context);
    const kind = BREVO_REPORT_KINDS.find((name) => `${name}.csv` === context.params[1]);
    const rows = kind === undefined ? undefined : process?.reports?.[kind];
    if (!kind || !rows) return { status: 404, text: 'Not found', contentType: 'text/plain' };
    const valued = rows.some((row) => row.value !== undefined);
    const lines = [valued ? 'EMAIL;SMS' : 'email', ...rows.map((row) => (valued ? `${row.email};${row.value ?? ''}` : row.email))];
    return { status: 200, text: `${lines.join('\n')}\n`, contentType: 'text/csv; charset=utf-8' };
  }

  private changeMembership(context: RequestContext, change: 'add' | 'remove'): Reply {
    const emails = (context.body as { emails?: unknown } | null)?.emails;
    if (Array.isArray(emails) && emails.length > this.maxListEmails) {
      return brevoError(400, 'invalid_parameter', `emails: at most ${this.maxListEmails} per request`);
    }
    const parsed = this.schemas.listEmails.safeParse(context.body);
    if (!parsed.success) return invalid(parsed.error);
    const list = this.listParam(context);
    if (!('members' in list)) return list;
    const success: string[] = [];
    const failure: string[] = [];
    for (const email of parsed.data.emails) {
      const key = emailKey(email);
      const known = !this.common.isInvalidEmail(email) && this.state.contacts.has(key);
      const changed = known && (change === 'add' ? !list.members.has(key) : list.members.has(key));
      if (!changed) {
        failure.push(email);
        continue;
      }
      if (change === 'add') list.members.add(key);
      else list.members.delete(key);
      success.push(email);
    }
    if (change === 'add') this.state.counters.addedToLists += success.length;
    else this.state.counters.removedFromLists += success.length;
    if (success.length === 0) return brevoError(400, 'invalid_parameter', 'Contact already in list and/or does not exist');
    return { status: 201, body: { contacts: { success, failure } } };
  }

  /**
   * `DELETE /v3/contacts/{identifier}[?identifierType=email_id]`: 204, the contact and its list
   * memberships gone; 404 `document_not_found` for an unknown contact. Only email identifiers are
   * imitated (a contact id or another identifier type is a 400).
   */
  private deleteContactRoute(context: RequestContext): Reply {
    const type = context.query.get('identifierType');
    const identifier = context.params[0] ?? '';
    if ((type !== null && type !== 'email_id') || !identifier.includes('@')) return brevoError(400, 'invalid_parameter', 'Only email identifiers are supported here');
    const key = emailKey(identifier);
    if (!this.state.contacts.delete(key)) return brevoError(404, 'document_not_found', 'Contact does not exist');
    for (const list of this.state.lists.values()) list.members.delete(key);
    this.state.deletedContacts.add(key);
    return { status: 204 };
  }
}

export async function startBrevoEmulator(options: BrevoEmulatorOptions = {}): Promise<BrevoEmulator> {
  const emulator = new BrevoEmulator(options);
  await emulator.listen();
  return emulator;
}
