// What the source API does (Admins only, checked by `authorize`): create, read, change and delete
// sources. A source names a storage account only if it is an Azure Storage endpoint or the app's
// own; deleting a source keeps the segments it fed (exports may use them).
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../app/context';
import type { Principal } from '../domain/policy';
import type { CreateSourceBody, Source, SourceResource, UpdateSourceBody } from '../domain/source';
import { Errors } from '../errors';
import { isAllowedSourceAccount } from '../storage/source-storage';
import type { OperationOptions } from '../app/operation';
import { deleteSourceRows, getSource, insertSource, listEntityStates, listSources, replaceSource, resetEntityStates, toEntityStatus, type StoredSource } from './repository';

export function newSourceId(): string {
  return `src-${randomBytes(6).toString('hex')}`;
}

export async function createSource(context: AppContext, principal: Principal, body: CreateSourceBody, options: OperationOptions = {}): Promise<SourceResource> {
  checkAccount(context, body.location.accountUrl);
  const now = context.now().toISOString();
  const source: Source = {
    id: newSourceId(),
    displayName: body.displayName,
    kind: body.kind,
    location: body.location,
    ...(body.entities ? { entities: body.entities } : {}),
    runExports: body.runExports,
    createdAt: now,
    createdBy: principal.userId,
    updatedAt: now,
    updatedBy: principal.userId,
  };
  await insertSource(context, source, options);
  context.log.info('source created', { sourceId: source.id, kind: source.kind, userId: principal.userId });
  return { ...source, status: { problems: [], entities: [] } };
}

export async function listSourceResources(context: AppContext, options: OperationOptions = {}): Promise<SourceResource[]> {
  const resources: SourceResource[] = [];
  for await (const stored of listSources(context, options)) resources.push(await present(context, stored, options));
  return resources.sort((a, b) => a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id));
}

export async function getSourceResource(context: AppContext, sourceId: string, options: OperationOptions = {}): Promise<SourceResource> {
  return present(context, await readSource(context, sourceId, options), options);
}

export async function updateSource(
  context: AppContext,
  principal: Principal,
  sourceId: string,
  body: UpdateSourceBody,
  options: OperationOptions = {},
): Promise<SourceResource> {
  const stored = await readSource(context, sourceId, options);
  if (body.location) checkAccount(context, body.location.accountUrl);
  const { entities: _entities, ...current } = stored.source;
  const entities = body.entities === null ? undefined : (body.entities ?? stored.source.entities);
  const updated: Source = {
    ...current,
    displayName: body.displayName ?? current.displayName,
    location: body.location ?? current.location,
    ...(entities ? { entities } : {}),
    runExports: body.runExports ?? current.runExports,
    updatedAt: context.now().toISOString(),
    updatedBy: principal.userId,
  };
  await replaceSource(context, stored, updated, options);
  // What was ingested from another folder, or into other segments, says nothing about the new ones.
  const reread = JSON.stringify([updated.location, updated.entities]) !== JSON.stringify([stored.source.location, stored.source.entities]);
  if (reread) await resetEntityStates(context, sourceId, options);
  context.log.info('source updated', { sourceId, userId: principal.userId, changed: Object.keys(body) });
  return present(context, { ...stored, source: updated }, options);
}

export async function deleteSource(context: AppContext, principal: Principal, sourceId: string, options: OperationOptions = {}): Promise<void> {
  await readSource(context, sourceId, options);
  await deleteSourceRows(context, sourceId, options);
  context.log.info('source deleted', { sourceId, userId: principal.userId });
}

/** The source, or 404. */
export async function readSource(context: AppContext, sourceId: string, options: OperationOptions = {}): Promise<StoredSource> {
  const stored = await getSource(context, sourceId, options);
  if (!stored) throw Errors.notFound('Source', sourceId);
  return stored;
}

function checkAccount(context: AppContext, accountUrl: string | undefined): void {
  if (accountUrl !== undefined && !isAllowedSourceAccount(context.storage, accountUrl)) throw Errors.sourceAccountNotAllowed(accountUrl);
}

async function present(context: AppContext, stored: StoredSource, options: OperationOptions): Promise<SourceResource> {
  const states = await listEntityStates(context, stored.source.id, options);
  const entities = [...states.values()].map(toEntityStatus).sort((a, b) => a.entity.localeCompare(b.entity));
  const scan = stored.scan ?? { problems: [] };
  return { ...stored.source, status: { ...scan, entities } };
}
