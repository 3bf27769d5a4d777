// The audit log as the API writes and reads it: each change a request makes is recorded here,
// after it succeeded, with the principal as the actor; `GET /api/audit` (Admins) lists the entries
// newest first. Resources never record (they do not import each other): the API and the pipeline do.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { getAppContext, type AppContext } from '../app/context';
import { json } from '../app/definitions';
import { listAuditPage, recordAudit } from '../audit/repository';
import { changedFields, type DiffOptions } from '../audit/diff';
import { auditQuerySchema, type AuditAction, type AuditActor, type AuditChange, type AuditEntry, type AuditQuery, type AuditResourceType } from '../domain/audit';
import type { Principal } from '../domain/policy';
import { authorize } from './auth';
import { openContinuation, sealContinuation } from './continuation';
import { parseQuery } from './validation';

export const AUDIT_PAGE_SIZE = 100;

export function actorOf(principal: Principal): AuditActor {
  return { userId: principal.userId, name: principal.name };
}

export interface AuditedChange {
  action: AuditAction;
  resourceType: AuditResourceType;
  resourceId: string;
  summary?: string;
  changes?: AuditChange[];
}

/** Records what the principal did (never throws: a failure is logged). */
export async function audit(context: AppContext, principal: Principal, change: AuditedChange): Promise<void> {
  await recordAudit(context, { actor: actorOf(principal), ...change });
}

/** The fields of a resource as created (`before` undefined), changed or deleted (`after` undefined). */
export function auditChanges(before: object | undefined, after: object | undefined, options: DiffOptions = {}): AuditChange[] {
  return changedFields(before as Record<string, unknown> | undefined, after as Record<string, unknown> | undefined, {
    ...options,
    ignore: ['createdAt', 'createdBy', 'updatedAt', 'updatedBy', ...(options.ignore ?? [])],
  });
}

/** `GET /api/audit?resourceType=&resourceId=&continuationToken=` (Admins). */
export async function handleListAudit(request: HttpRequest): Promise<HttpResponseInit> {
  authorize(request, 'audit:read');
  const { continuationToken, ...filter } = parseQuery(request, auditQuerySchema);
  return json(200, await listAuditEntries(getAppContext(), filter, continuationToken));
}

/** One page of the audit log; its continuation token is sealed for the same filter (a token of another filter is a 400). */
export async function listAuditEntries(context: AppContext, filter: Omit<AuditQuery, 'continuationToken'>, continuationToken: string | undefined): Promise<{ items: AuditEntry[]; continuationToken?: string }> {
  const listing = `${filter.resourceType ?? ''}/${filter.resourceId ?? ''}`;
  const cursor = await openContinuation(context, 'audit', listing, continuationToken);
  const page = await listAuditPage(context, filter, cursor, AUDIT_PAGE_SIZE);
  const next = await sealContinuation(context, 'audit', listing, page.cursor);
  return next ? { items: page.items, continuationToken: next } : { items: page.items };
}
