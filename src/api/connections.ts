import type { HttpRequest } from '@azure/functions';
import { connectionIdSchema, deleteConnectionQuerySchema } from '../domain/connection';
import { Errors } from '../errors';
import { parseQuery } from './validation';

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
