// The connection routes' parsing and the one decision about connections that involves exports:
// deleting a connection that exports use (409, or `force` to remove them too). The rest of the
// connection API is `src/connections/service.ts`; the handlers are in `functions/connections-*.ts`.
import type { HttpRequest } from '@azure/functions';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { deleteConnection, requireVisibleConnection } from '../connections/service';
import { connectionIdSchema, deleteConnectionQuerySchema } from '../domain/connection';
import type { Principal } from '../domain/policy';
import { Errors } from '../errors';
import { exportsUsingConnection } from '../exports/repository';
import { removeExportsOfConnection } from '../pipeline/cleanup';
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
  await requireVisibleConnection(context, principal, connectionId, { abortSignal });
  const exportIds = await exportsUsingConnection(context, connectionId, { abortSignal });
  if (exportIds.length > 0 && !options.force) {
    throw Errors.conflict(`Connection '${connectionId}' is used by export(s) ${exportIds.join(', ')}; delete them first or repeat with ?force=true`, {
      details: { exportIds },
    });
  }
  if (exportIds.length > 0) await removeExportsOfConnection(context, connectionId, { abortSignal });
  await deleteConnection(context, principal, connectionId, { abortSignal, deletedExports: exportIds.length });
}
