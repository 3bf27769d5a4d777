import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { getAppContext } from '../app/context';
import { json } from '../app/definitions';
import { createExportBodySchema, exportIdSchema, updateExportBodySchema } from '../domain/export';
import { createExport, deleteExport, getExportResource, listVisibleExports, updateExport } from '../exports/service';
import { authorize } from './auth';
import { parseWith, readJsonBody } from './validation';

/** HTTP handlers of `/api/exports`. */
const exportParams = z.object({ exportId: exportIdSchema });

export async function handleCreateExport(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:write');
  const body = await readJsonBody(request, createExportBodySchema);
  const created = await createExport(getAppContext(), principal, body);
  return json(201, created, { location: `/api/exports/${created.id}` });
}

export async function handleListExports(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:read');
  return json(200, { items: await listVisibleExports(getAppContext(), principal) });
}

export async function handleGetExport(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:read');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  return json(200, await getExportResource(getAppContext(), principal, exportId));
}

export async function handleUpdateExport(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:write');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  const body = await readJsonBody(request, updateExportBodySchema);
  return json(200, await updateExport(getAppContext(), principal, exportId, body));
}

export async function handleDeleteExport(request: HttpRequest): Promise<HttpResponseInit> {
  const principal = authorize(request, 'export:write');
  const { exportId } = parseWith(exportParams, request.params, 'route');
  await deleteExport(getAppContext(), principal, exportId);
  return { status: 204 };
}
