// The privacy API (Admins): `POST /api/privacy/erasures` suppresses a person at once and queues
// their erasure from every target an export added them to; `GET /api/privacy/erasures/{id}` tells
// how far it got, per target; `DELETE /api/privacy/suppressions/{email}` lets later runs send the
// person again. Each is recorded in the audit log without the address (an erasure by its id, a
// suppression by the erasure that made it).
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { getAppContext } from '../app/context';
import { json } from '../app/definitions';
import { createErasureBodySchema, erasureIdSchema, toErasureResource, type ErasureAccepted } from '../domain/privacy';
import { Errors, validationError } from '../errors';
import { normalizeEmail } from '../pipeline/plan/email';
import { startErasure } from '../pipeline/privacy/erasure';
import { getErasure } from '../privacy/erasures';
import { removeSuppression } from '../privacy/suppressions';
import { actorOf, audit } from './audit';
import { authorize } from './auth';
import { parseWith, readJsonBody } from './validation';

function normalised(raw: string, path: string): string {
  const checked = normalizeEmail(raw);
  if (!checked.ok) throw validationError('request', [{ path, message: checked.reason }]);
  return checked.email;
}

export async function handleCreateErasure(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'privacy:manage');
  const body = await readJsonBody(request, createErasureBodySchema);
  const email = normalised(body.email, 'email');
  const context = getAppContext();
  const doc = await startErasure(context, { email, deleteAtProvider: body.deleteAtProvider, requestedBy: actorOf(principal) });
  await audit(context, principal, {
    action: 'erase',
    resourceType: 'erasure',
    resourceId: doc.erasureId,
    summary: body.deleteAtProvider ? 'erasure with deletion at the providers' : 'erasure (list and tag removal)',
  });
  const accepted: ErasureAccepted = { erasureId: doc.erasureId, status: doc.status, statusUrl: `/api/privacy/erasures/${doc.erasureId}` };
  return json(202, accepted, { location: accepted.statusUrl });
}

export async function handleGetErasure(request: HttpRequest): Promise<HttpResponseInit> {
  authorize(request, 'privacy:manage');
  const { erasureId } = parseWith(z.object({ erasureId: erasureIdSchema }), request.params, 'route');
  const stored = await getErasure(getAppContext(), erasureId);
  if (!stored) throw Errors.notFound('Erasure', erasureId);
  return json(200, toErasureResource(stored.doc));
}

export async function handleLiftSuppression(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'privacy:manage');
  const raw = safeDecode(String(request.params.email ?? '')).slice(0, 256);
  const email = normalised(raw, 'email');
  const context = getAppContext();
  if (!(await removeSuppression(context, email))) throw Errors.notFound('Suppression', 'for this email');
  await audit(context, principal, { action: 'lift', resourceType: 'suppression', resourceId: 'by email (not kept)', summary: 'suppression lifted: later runs may send this person again' });
  return { status: 204 };
}

/** The route parameter as the caller meant it (the host may hand it over still percent-encoded). */
function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
