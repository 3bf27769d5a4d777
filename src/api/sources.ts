// The source API: handlers of `/api/sources` (Admins only). A scan is queued (202), never run in
// the request: ingesting an export can take longer than an HTTP request should.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { getAppContext } from '../app/context';
import { json } from '../app/definitions';
import { createSourceBodySchema, sourceIdSchema, updateSourceBodySchema, type SourceScanQueued } from '../domain/source';
import { requestSourceScan } from '../pipeline/sources';
import { createSource, deleteSource, getSourceResource, listSourceResources, readSource, updateSource } from '../sources/service';
import { authorize } from './auth';
import { parseWith, readJsonBody } from './validation';

const sourceParams = z.object({ sourceId: sourceIdSchema });

export const sourceLocation = (sourceId: string): string => `/api/sources/${encodeURIComponent(sourceId)}`;

export async function handleCreateSource(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'source:manage');
  const body = await readJsonBody(request, createSourceBodySchema);
  const created = await createSource(getAppContext(), principal, body);
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
  return json(200, await updateSource(getAppContext(), principal, sourceId, body));
}

export async function handleDeleteSource(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'source:manage');
  const { sourceId } = parseWith(sourceParams, request.params, 'route');
  await deleteSource(getAppContext(), principal, sourceId);
  return { status: 204 };
}

export async function handleScanSource(request: HttpRequest): Promise<HttpResponseInit> {
  authorize(request, 'source:manage');
  const { sourceId } = parseWith(sourceParams, request.params, 'route');
  const context = getAppContext();
  await readSource(context, sourceId);
  await requestSourceScan(context, sourceId);
  const queued: SourceScanQueued = { sourceId, status: 'queued', statusUrl: sourceLocation(sourceId) };
  return json(202, queued, { location: queued.statusUrl });
}
