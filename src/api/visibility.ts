// What a caller may see: an export (and so its runs) is visible to an Admin, or to a Contributor
// who may use its connection; anything else is a 404, so a Contributor does not learn it exists.
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { getConnection } from '../connections/repository';
import type { Connection } from '../domain/connection';
import { canUseExport, type Principal } from '../domain/policy';
import { Errors } from '../errors';
import { getExport, type StoredExport } from '../exports/repository';

export interface VisibleExport {
  stored: StoredExport;
  connection: Connection | undefined;
}

/** The export and its connection, when the caller may see it; 404 `not_found` otherwise. */
export async function requireVisibleExport(context: AppContext, principal: Principal, exportId: string, options: OperationOptions = {}): Promise<VisibleExport> {
  const stored = await getExport(context, exportId, options);
  if (!stored) throw Errors.notFound('Export', exportId);
  const connection = (await getConnection(context, stored.export.connectionId, options))?.connection;
  if (!canUseExport(principal, connection)) throw Errors.notFound('Export', exportId);
  return { stored, connection };
}
