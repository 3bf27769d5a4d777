// What the connection API does. Every function takes the caller's principal (already authorized
// for the action by `authorize`) and applies the per-connection rule of `canUseConnection`. The
// API key goes to the provider (verification) and the secret store, nowhere else.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import {
  checkOptions,
  connectionOptionsSchema,
  normaliseOptions,
  toPublicConnection,
  type Connection,
  type CreateConnectionBody,
  type PublicConnection,
  type UpdateConnectionBody,
} from '../domain/connection';
import { can, canUseConnection, type Principal } from '../domain/policy';
import { Errors, validationError } from '../errors';
import { SecretStoreError, toSecretName } from '../secrets';
import {
  createConnectionRow,
  deleteConnectionRow,
  getConnection,
  listConnections,
  replaceConnectionRow,
  type StoredConnection,
} from './repository';
import { verifyConnectionKey } from './verify';

export interface ConnectionForUse {
  connection: Connection;
  apiKey: string;
}

export async function createConnection(
  context: AppContext,
  principal: Principal,
  body: CreateConnectionBody,
  options: OperationOptions = {},
): Promise<PublicConnection> {
  if (body.acceptPrivacyTerms !== true) throw Errors.consentRequired();
  const connectionOptions = normaliseOptions(body.provider, body.options);
  await verifyConnectionKey(context, { provider: body.provider, apiKey: body.apiKey, options: connectionOptions }, options);

  const id = randomUUID();
  const stored = await secretStore(() => context.secrets.setSecret(secretNameFor(id), body.apiKey, options));
  const now = context.now().toISOString();
  const connection: Connection = {
    id,
    displayName: body.displayName,
    provider: body.provider,
    allowContributors: body.allowContributors,
    options: connectionOptions,
    secretName: stored.name,
    secretVersion: stored.version,
    consent: { acceptedBy: principal.name, acceptedByUserId: principal.userId, acceptedAt: now },
    createdAt: now,
    createdBy: principal.userId,
    updatedAt: now,
    updatedBy: principal.userId,
  };
  try {
    await createConnectionRow(context, connection, options);
  } catch (error) {
    await forgetSecret(context, connection, 'the connection could not be saved');
    throw error;
  }
  context.log.info('connection created', { connectionId: id, provider: connection.provider, userId: principal.userId });
  return present(principal, connection);
}

/** The connections the principal may see, by display name. */
export async function listVisibleConnections(
  context: AppContext,
  principal: Principal,
  options: OperationOptions = {},
): Promise<PublicConnection[]> {
  const visible: PublicConnection[] = [];
  for await (const connection of listConnections(context, options)) {
    if (canUseConnection(principal, connection)) visible.push(present(principal, connection));
  }
  return visible.sort((a, b) => a.displayName.localeCompare(b.displayName) || a.id.localeCompare(b.id));
}

/** The connection as the principal may see it; 404 when it does not exist or they may not use it. */
export async function requireVisibleConnection(
  context: AppContext,
  principal: Principal,
  connectionId: string,
  options: OperationOptions = {},
): Promise<PublicConnection> {
  const { connection } = await requireVisible(context, principal, connectionId, options);
  return present(principal, connection);
}

export async function updateConnection(
  context: AppContext,
  principal: Principal,
  connectionId: string,
  body: UpdateConnectionBody,
  options: OperationOptions = {},
): Promise<PublicConnection> {
  const { connection, etag } = await requireVisible(context, principal, connectionId, options);
  if (body.options) checkPatchedOptions(connection.provider, body.options);
  const connectionOptions = body.options ? normaliseOptions(connection.provider, { ...connection.options, ...body.options }) : connection.options;
  const regionChanged = connectionOptions.region !== connection.options.region;

  // A new key, or the old key in another data centre, must be accepted before anything changes.
  if (body.apiKey !== undefined || regionChanged) {
    const keyToVerify = body.apiKey ?? (await readApiKey(context, connection, options));
    await verifyConnectionKey(context, { provider: connection.provider, apiKey: keyToVerify, options: connectionOptions }, options);
  }
  const { apiKey } = body;
  const stored = apiKey === undefined ? undefined : await secretStore(() => context.secrets.setSecret(connection.secretName, apiKey, options));

  const updated: Connection = {
    ...connection,
    displayName: body.displayName ?? connection.displayName,
    allowContributors: body.allowContributors ?? connection.allowContributors,
    options: connectionOptions,
    secretName: stored?.name ?? connection.secretName,
    secretVersion: stored?.version ?? connection.secretVersion,
    updatedAt: context.now().toISOString(),
    updatedBy: principal.userId,
  };
  try {
    await replaceConnectionRow(context, updated, etag, options);
  } catch (error) {
    // The row still names the old version; only a secret under a fresh name would be left over.
    if (stored && stored.name !== connection.secretName) await forgetSecret(context, updated, 'the change could not be saved');
    throw error;
  }
  context.log.info('connection updated', {
    connectionId,
    provider: connection.provider,
    userId: principal.userId,
    changed: Object.keys(body).filter((field) => body[field as keyof UpdateConnectionBody] !== undefined),
  });
  return present(principal, updated);
}

export interface DeleteConnectionOptions extends OperationOptions {
  /** How many exports went with it (for the log). */
  deletedExports?: number;
}

/**
 * Deletes the connection and its key (whether exports still use it is the API's decision). The key
 * goes before the row so that a failure half-way leaves a visible connection to delete again,
 * never an orphaned key.
 */
export async function deleteConnection(
  context: AppContext,
  principal: Principal,
  connectionId: string,
  options: DeleteConnectionOptions = {},
): Promise<void> {
  const { connection } = await requireVisible(context, principal, connectionId, options);
  await secretStore(() => context.secrets.deleteSecret(connection.secretName, options));
  await deleteConnectionRow(context, connectionId, options);
  context.log.info('connection deleted', {
    connectionId,
    provider: connection.provider,
    userId: principal.userId,
    deletedExports: options.deletedExports ?? 0,
  });
}

/**
 * The connection and its API key, for the export pipeline (no principal: the run was authorized
 * when it was started); 404 `not_found` when the connection is gone. The key is read by the
 * version the connection names, so a rotation on another instance is seen at once.
 */
export async function requireConnectionForUse(
  context: AppContext,
  connectionId: string,
  options: OperationOptions = {},
): Promise<ConnectionForUse> {
  const stored = await getConnection(context, connectionId, options);
  if (!stored) throw Errors.notFound('Connection', connectionId);
  const { connection } = stored;
  return { connection, apiKey: await readApiKey(context, connection, options) };
}

/** Secret names come from the connection id, which is a UUID: always valid for Key Vault. */
export function secretNameFor(connectionId: string): string {
  return toSecretName('connection', connectionId);
}

async function requireVisible(
  context: AppContext,
  principal: Principal,
  connectionId: string,
  options: OperationOptions,
): Promise<StoredConnection> {
  const stored = await getConnection(context, connectionId, options);
  // A connection a Contributor may not use does not exist for them: 404, not 403.
  if (!stored || !canUseConnection(principal, stored.connection)) throw Errors.notFound('Connection', connectionId);
  return stored;
}

async function readApiKey(context: AppContext, connection: Connection, options: OperationOptions): Promise<string> {
  const apiKey = await secretStore(() =>
    context.secrets.getSecret(connection.secretName, { version: connection.secretVersion, abortSignal: options.abortSignal }),
  );
  if (apiKey === undefined) {
    throw Errors.conflict(`Connection '${connection.id}' has no API key in the secret store; set one with PATCH { "apiKey": … }`);
  }
  return apiKey;
}

/** Best effort: the caller is already failing, and a left-over secret is harmless but untidy. */
async function forgetSecret(context: AppContext, connection: Connection, reason: string): Promise<void> {
  try {
    await context.secrets.deleteSecret(connection.secretName);
  } catch (error) {
    context.log.warn('could not delete the secret of a connection that was not saved', {
      connectionId: connection.id,
      reason,
      error: error instanceof Error ? error : String(error),
    });
  }
}

/** A secret store that cannot be reached is a 503 the caller may retry, not an internal error. */
async function secretStore<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof SecretStoreError) throw Errors.dependencyUnavailable('The secret store', { cause: error });
    throw error;
  }
}

function present(principal: Principal, connection: Connection): PublicConnection {
  return toPublicConnection(connection, { includeConsent: can(principal, 'connection:manage') });
}

/** What the create body's refinement checks, for a patch (its provider comes from the stored connection). */
function checkPatchedOptions(provider: Connection['provider'], patch: NonNullable<UpdateConnectionBody['options']>): void {
  const parsed = z
    .object({ options: connectionOptionsSchema })
    .superRefine((body, ctx) => checkOptions(provider, body.options, ctx))
    .safeParse({ options: patch });
  if (!parsed.success) throw validationError('request body', parsed.error);
}
