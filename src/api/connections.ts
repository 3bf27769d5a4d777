// The connection routes' parsing and the one decision about connections that involves exports:
// deleting a connection that exports use (409, or `force` to remove them too). The rest of the
// connection API is `src/connections/service.ts`; the handlers are in `functions/connections-*.ts`.
import type { HttpRequest } from '@azure/functions';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { secretChange } from '../audit/diff';
import { createConnection, deleteConnection, requireVisibleConnection, updateConnection } from '../connections/service';
import {
  connectionIdSchema,
  deleteConnectionQuerySchema,
  type CreateConnectionBody,
  type PublicConnection,
  type UpdateConnectionBody,
} from '../domain/connection';
import type { Principal } from '../domain/policy';
import { Errors } from '../errors';
import { exportsUsingConnection } from '../exports/repository';
import { removeExportsOfConnection } from '../pipeline/cleanup';
import { audit, auditChanges } from './audit';
import { parseQuery } from './validation';

export interface DeleteConnectionAndExportsOptions extends OperationOptions {
  /** Delete the exports that use the connection too (their active runs are cancelled). */
  force: boolean;
}

/** The `{connectionId}` of the route; an id that cannot exist is a 404 like any unknown id. */
export function connectionIdFrom(request: HttpRequest): string {
  const connectionId = request.params.connectionId ?? '';
  if (!connectionIdSchema.safeParse(connectionId).success) throw Errors.notFound('Connection', connectionId.slice(0, 64));
  return connectionId;
}

/** `?force=true` of `DELETE /api/connections/{connectionId}`. */
export function deleteOptionsFrom(request: HttpRequest): { force: boolean } {
  return parseQuery(request, deleteConnectionQuerySchema);
}

/** Where a created connection can be read. */
export function connectionLocation(connectionId: string): string {
  return `/api/connections/${encodeURIComponent(connectionId)}`;
}

/**
 * `DELETE /api/connections/{connectionId}`: while exports use the connection the answer is 409
 * naming them, unless `force`, which removes those exports first (their active runs cancelled).
 */
export async function deleteConnectionAndExports(
  context: AppContext,
  principal: Principal,
  connectionId: string,
  options: DeleteConnectionAndExportsOptions,
): Promise<void> {
  const { abortSignal } = options;
  // 404 before 409: a connection the caller may not see is not in use as far as they know.
  const before = await requireVisibleConnection(context, principal, connectionId, { abortSignal });
  const exportIds = await exportsUsingConnection(context, connectionId, { abortSignal });
  if (exportIds.length > 0 && !options.force) {
    throw Errors.conflict(`Connection '${connectionId}' is used by export(s) ${exportIds.join(', ')}; delete them first or repeat with ?force=true`, {
      details: { exportIds },
    });
  }
  if (exportIds.length > 0) await removeExportsOfConnection(context, connectionId, { abortSignal });
  await deleteConnection(context, principal, connectionId, { abortSignal, deletedExports: exportIds.length });
  await audit(context, principal, {
    action: 'delete',
    resourceType: 'connection',
    resourceId: connectionId,
    summary: exportIds.length > 0 ? `with its exports ${exportIds.join(', ')}` : undefined,
    changes: auditChanges(before, undefined, { ignore: ['id'] }),
  });
}

/** `POST /api/connections`, recorded in the audit log (the key never: only that one was set). */
export async function createAuditedConnection(context: AppContext, principal: Principal, body: CreateConnectionBody, options: OperationOptions = {}): Promise<PublicConnection> {
  const connection = await createConnection(context, principal, body, options);
  await audit(context, principal, {
    action: 'create',
    resourceType: 'connection',
    resourceId: connection.id,
    changes: [...auditChanges(undefined, connection, { ignore: ['id'] }), secretChange('apiKey', 'key set')],
  });
  return connection;
}

/**
 * `PATCH /api/connections/{connectionId}`, recorded with the fields it changed; a new key is a
 * `rotate_key` entry that says "key rotated" and nothing else about it.
 */
export async function updateAuditedConnection(
  context: AppContext,
  principal: Principal,
  connectionId: string,
  body: UpdateConnectionBody,
  options: OperationOptions = {},
): Promise<PublicConnection> {
  const before = await requireVisibleConnection(context, principal, connectionId, options);
  const after = await updateConnection(context, principal, connectionId, body, options);
  const rotated = body.apiKey !== undefined;
  await audit(context, principal, {
    action: rotated ? 'rotate_key' : 'update',
    resourceType: 'connection',
    resourceId: connectionId,
    summary: rotated ? 'key rotated' : undefined,
    changes: [...auditChanges(before, after), ...(rotated ? [secretChange('apiKey', 'key rotated')] : [])],
  });
  return after;
}
