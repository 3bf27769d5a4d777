// Remembers provider-side targets that we create (the Iterable list named after a segment), and
// makes sure that only one worker creates each: Iterable list names are not unique and creating
// one is not idempotent, so two workers preparing the same segment at once would make two lists.
//
// A worker claims the name with an insert (or an ETag replace of a stale record); a worker that
// loses waits for the winner's id. A claim older than its lease is taken over (its owner died).
import { createHash, randomUUID } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { deleteEntityIfUnchanged, isAlreadyExists, isNotFound, isPreconditionFailed } from '../storage/tables';

export type RememberedTarget =
  | { state: 'ready'; id: number; etag: string }
  | { state: 'creating'; owner: string; claimedAtMs: number; etag: string };

export interface TargetKey {
  connectionId: string;
  /** What kind of target: `iterable-list`. */
  kind: string;
  name: string;
}

export interface TargetRegistry {
  read(key: TargetKey): Promise<RememberedTarget | undefined>;
  /** Claims the creation; `etag` replaces a record read before (stale or expired), none inserts. */
  claim(key: TargetKey, owner: string, etag: string | undefined, nowMs: number): Promise<{ etag: string } | undefined>;
  /** Records the created id, unconditionally: whoever completes has the right id. */
  complete(key: TargetKey, id: number): Promise<void>;
  /** Gives a claim up after a failed creation so that another worker need not wait out the lease. */
  release(key: TargetKey, etag: string): Promise<void>;
}

const entitySchema = z.object({
  etag: z.string(),
  state: z.enum(['ready', 'creating']),
  targetId: z.number().int().optional(),
  owner: z.string().optional(),
  claimedAtMs: z.number().optional(),
});

/** Rows live in the targets table: partition = connection, row = kind + hash of the name. */
export function createTableTargetRegistry(table: TableClient): TargetRegistry {
  const keys = (key: TargetKey) => ({
    partitionKey: tableKey(key.connectionId),
    rowKey: `${key.kind}-${createHash('sha256').update(key.name).digest('hex').slice(0, 48)}`,
  });
  return {
    async read(key) {
      const { partitionKey, rowKey } = keys(key);
      try {
        const parsed = entitySchema.safeParse(await table.getEntity(partitionKey, rowKey));
        if (!parsed.success) return undefined;
        const row = parsed.data;
        if (row.state === 'ready' && row.targetId !== undefined) return { state: 'ready', id: row.targetId, etag: row.etag };
        return { state: 'creating', owner: row.owner ?? '', claimedAtMs: row.claimedAtMs ?? 0, etag: row.etag };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async claim(key, owner, etag, nowMs) {
      const entity = { ...keys(key), kind: key.kind, name: key.name, state: 'creating', owner, claimedAtMs: nowMs };
      try {
        const response =
          etag === undefined ? await table.createEntity(entity) : await table.updateEntity(entity, 'Replace', { etag });
        return { etag: response.etag ?? '' };
      } catch (error) {
        if (isAlreadyExists(error) || isPreconditionFailed(error)) return undefined;
        throw error;
      }
    },
    async complete(key, id) {
      await table.upsertEntity({ ...keys(key), kind: key.kind, name: key.name, state: 'ready', targetId: id }, 'Replace');
    },
    async release(key, etag) {
      const { partitionKey, rowKey } = keys(key);
      // Changed meanwhile: someone else holds the claim now, and it is theirs to give up.
      await deleteEntityIfUnchanged(table, partitionKey, rowKey, etag);
    },
  };
}

/** One process only (tests, tools): the same protocol over a Map. */
export function createMemoryTargetRegistry(): TargetRegistry {
  const rows = new Map<string, RememberedTarget>();
  const id = (key: TargetKey) => `${key.connectionId}\u0000${key.kind}\u0000${key.name}`;
  return {
    async read(key) {
      return rows.get(id(key));
    },
    async claim(key, owner, etag, nowMs) {
      const current = rows.get(id(key));
      if ((current === undefined) !== (etag === undefined) || (current !== undefined && current.etag !== etag)) return undefined;
      const next: RememberedTarget = { state: 'creating', owner, claimedAtMs: nowMs, etag: randomUUID() };
      rows.set(id(key), next);
      return { etag: next.etag };
    },
    async complete(key, targetId) {
      rows.set(id(key), { state: 'ready', id: targetId, etag: randomUUID() });
    },
    async release(key, etag) {
      if (rows.get(id(key))?.etag === etag) rows.delete(id(key));
    },
  };
}

function tableKey(value: string): string {
  return /^[A-Za-z0-9_.:@-]{1,200}$/.test(value) ? value : `h-${createHash('sha256').update(value).digest('hex')}`;
}
