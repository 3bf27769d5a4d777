// The source API: handlers of `/api/sources` (Admins only). A scan is queued (202), never run in
// the request: ingesting an export can take longer than an HTTP request should. Each change, and
// each scan asked for, is recorded in the audit log.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { getAppContext, type AppContext } from '../app/context';
import { json } from '../app/definitions';
import { createSourceBodySchema, sourceIdSchema, updateSourceBodySchema, type Source, type SourceScanQueued } from '../domain/source';
import type { Principal } from '../domain/policy';
import { requestSourceScan } from '../pipeline/sources';
import { createSource, deleteSource, getSourceResource, listSourceResources, readSource, updateSource } from '../sources/service';
import { audit, auditChanges } from './audit';
import { authorize } from './auth';
import { parseWith, readJsonBody } from './validation';

const sourceParams = z.object({ sourceId: sourceIdSchema });

export const sourceLocation = (sourceId: string): string => `/api/sources/${encodeURIComponent(sourceId)}`;

export async function handleCreateSource(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'source:manage');
  const body = await readJsonBody(request, createSourceBodySchema);
  const context = getAppContext();
  const created = await createSource(context, principal, body);
  await auditSource(context, principal, 'create', created.id, undefined, created);
  return json(201, created, { location: sourceLocation(created.id) });
}

export async function handleListSources(request: HttpRequest): Promise<HttpResponseInit> {
  authorize(request, 'source:read');
  return json(200, { items: await listSourceResources(getAppContext()) });
}

export async function handleGetSource(request: HttpRequest): Promise<HttpResponseInit> {
  authorize(request, 'source:read');
  const { sourceId } = parseWith(sourceParams, request.params, 'route');
  return json(200, await getSourceResource(getAppContext(), sourceId));
}

export async function handleUpdateSource(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'source:manage');
  const { sourceId } = parseWith(sourceParams, request.params, 'route');
  const body = await readJsonBody(request, updateSourceBodySchema);
  const context = getAppContext();
  const before = (await readSource(context, sourceId)).source;
  const after = await updateSource(context, principal, sourceId, body);
  await auditSource(context, principal, 'update', sourceId, before, after);
  return json(200, after);
}

export async function handleDeleteSource(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'source:manage');
  const { sourceId } = parseWith(sourceParams, request.params, 'route');
  const context = getAppContext();
  const before = (await readSource(context, sourceId)).source;
  await deleteSource(context, principal, sourceId);
  await auditSource(context, principal, 'delete', sourceId, before, undefined);
  return { status: 204 };
}

export async function handleScanSource(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'source:manage');
  const { sourceId } = parseWith(sourceParams, request.params, 'route');
  const context = getAppContext();
  await readSource(context, sourceId);
  await requestSourceScan(context, sourceId);
  await audit(context, principal, { action: 'start', resourceType: 'source', resourceId: sourceId, summary: 'scan requested' });
  const queued: SourceScanQueued = { sourceId, status: 'queued', statusUrl: sourceLocation(sourceId) };
  return json(202, queued, { location: queued.statusUrl });
}

/** A source's settings as the audit log shows them (its scan status is not a change anyone made). */
function auditedFields(source: Source): Omit<Source, 'createdAt' | 'createdBy' | 'updatedAt' | 'updatedBy'> {
  return { id: source.id, displayName: source.displayName, kind: source.kind, location: source.location, entities: source.entities, runExports: source.runExports };
}

async function auditSource(context: AppContext, principal: Principal, action: 'create' | 'update' | 'delete', sourceId: string, before: Source | undefined, after: Source | undefined): Promise<void> {
  const changes = auditChanges(before && auditedFields(before), after && auditedFields(after), { ignore: ['id'] });
  await audit(context, principal, { action, resourceType: 'source', resourceId: sourceId, changes });
}
