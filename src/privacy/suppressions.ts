// The suppression list: a keyed hash (HMAC-SHA256) of each erased person's normalised email, so
// that every later run can recognise them without the app keeping their address. The key lives in
// the secret store (Key Vault in Azure) under its own name; the version first stored is pinned in
// the suppressions table, so that instances racing to create it all use one.
import { createHmac, randomBytes } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app/context';
import type { OperationOptions } from '../app/operation';
import { createEntityIfAbsent, deleteEntity, getEntity } from '../storage/tables';

/** Distinct from every other secret of the app (connection keys, notification keys, token keys). */
export const SUPPRESSION_KEY_SECRET = 'privacy-suppression-hmac-key';
const KEY_PARTITION = 'key';
const SUPPRESSED_PARTITION = 'suppressed';

const keyRowSchema = z.object({ name: z.string(), version: z.string() });
const suppressionRowSchema = z.object({ rowKey: z.string(), createdAt: z.string(), erasureId: z.string().optional() });

function suppressionsTable(context: AppContext): TableClient {
  return context.storage.table(context.storage.names.tables.suppressions);
}

const keys = new WeakMap<AppContext, Promise<Buffer>>();

/** The HMAC key (created on first use, then pinned). */
export function suppressionKey(context: AppContext): Promise<Buffer> {
  let key = keys.get(context);
  if (!key) {
    key = loadOrCreateKey(context);
    keys.set(context, key);
    key.catch(() => keys.delete(context));
  }
  return key;
}

async function loadOrCreateKey(context: AppContext): Promise<Buffer> {
  const table = suppressionsTable(context);
  let pinned = await getEntity(table, KEY_PARTITION, KEY_PARTITION, keyRowSchema);
  if (!pinned) {
    const stored = await context.secrets.setSecret(SUPPRESSION_KEY_SECRET, randomBytes(32).toString('base64'));
    // Whoever pins first wins; a loser's version is simply never read.
    await createEntityIfAbsent(table, { partitionKey: KEY_PARTITION, rowKey: KEY_PARTITION, name: stored.name, version: stored.version });
    pinned = await getEntity(table, KEY_PARTITION, KEY_PARTITION, keyRowSchema);
  }
  const value = await context.secrets.getSecret(pinned!.name, { version: pinned!.version });
  if (value === undefined) throw new Error(`The secret store has no version ${pinned!.version} of ${pinned!.name}`);
  return Buffer.from(value, 'base64');
}

/** The keyed hash of a normalised email (hex). */
export function suppressionHash(key: Buffer, normalisedEmail: string): string {
  return createHmac('sha256', key).update(normalisedEmail, 'utf8').digest('hex');
}

export async function addSuppression(context: AppContext, normalisedEmail: string, erasureId: string, options: OperationOptions = {}): Promise<string> {
  const hash = suppressionHash(await suppressionKey(context), normalisedEmail);
  await suppressionsTable(context).upsertEntity(
    { partitionKey: SUPPRESSED_PARTITION, rowKey: hash, createdAt: context.now().toISOString(), erasureId },
    'Replace',
    { abortSignal: options.abortSignal },
  );
  return hash;
}

/** Lifts a suppression; false when there was none. */
export async function removeSuppression(context: AppContext, normalisedEmail: string, options: OperationOptions = {}): Promise<boolean> {
  const hash = suppressionHash(await suppressionKey(context), normalisedEmail);
  const found = await getEntity(suppressionsTable(context), SUPPRESSED_PARTITION, hash, suppressionRowSchema, options);
  if (!found) return false;
  await deleteEntity(suppressionsTable(context), SUPPRESSED_PARTITION, hash, options);
  return true;
}

/** Answers whether a normalised email is suppressed; built once per run from the whole list. */
export interface SuppressionMatcher {
  readonly size: number;
  has(normalisedEmail: string): boolean;
}

const NOBODY: SuppressionMatcher = { size: 0, has: () => false };

/** Every suppression now. With none (the usual case) no email is hashed at all. */
export async function loadSuppressions(context: AppContext, options: OperationOptions = {}): Promise<SuppressionMatcher> {
  const hashes = new Set<string>();
  const entities = suppressionsTable(context).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${SUPPRESSED_PARTITION}`, select: ['RowKey'] },
    abortSignal: options.abortSignal,
  });
  for await (const entity of entities) hashes.add(String(entity.rowKey));
  if (hashes.size === 0) return NOBODY;
  const key = await suppressionKey(context);
  return { size: hashes.size, has: (email) => hashes.has(suppressionHash(key, email)) };
}
