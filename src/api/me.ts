import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { json } from '../app/definitions';
import { ROLES } from '../domain/policy';
import type { Me } from '../domain/session';
import { readPrincipal } from './auth';

/** `GET /api/me`: any signed-in principal may ask who it is and which app roles it holds. */
export async function handleGetMe(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = readPrincipal(request);
  const me: Me = { userId: principal.userId, name: principal.name, roles: ROLES.filter((role) => principal.roles.has(role)) };
  return json(200, me);
}
