// The governor's one row per provider account in Table storage: its schema, and reading and writing
// it under its ETag (optimistic concurrency: a write that loses to another instance answers false,
// and the caller reads again).
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { Logger } from '../../log';
import type { OperationOptions } from '../../app/operation';
import { createEntityIfAbsent, getEntity, replaceEntityIfUnchanged } from '../../storage/tables';

const entrySchema = z.tuple([z.number(), z.number().int().positive()]);
const pauseSchema = z.object({ untilMs: z.number(), durationMs: z.number(), streak: z.number().int().nonnegative() });

export const governorStateSchema = z.object({
  v: z.literal(1),
  /** Each counter's grants, as `[sliceStartMs, count]` (see window.ts). */
  counters: z.record(z.string(), z.array(entrySchema)),
  /** The account's pause after a 429 (see pauses.ts). */
  pause: pauseSchema.optional(),
  /** Buckets whose window the provider's rate headers said is exhausted, until it resets. */
  bucketPausedUntilMs: z.record(z.string(), z.number()).optional(),
});
export type GovernorState = z.infer<typeof governorStateSchema>;
export type AccountPause = z.infer<typeof pauseSchema>;

export interface GovernorRow {
  state: GovernorState;
  /** Undefined when the row does not exist yet: the next write creates it. */
  etag: string | undefined;
}

/** How often a read-change-write is tried again after losing to another instance. */
export const MAX_CONFLICT_RETRIES = 40;

const ROW_KEY = 'rate';
const storedRowSchema = z.object({ state: z.unknown(), etag: z.unknown() });

export function emptyState(): GovernorState {
  return { v: 1, counters: {} };
}

/** A short random pause after a lost write, so that racing instances do not collide again. */
export function conflictBackoff(): Promise<void> {
  return sleep(Math.random() * 5);
}

export class GovernorTable {
  constructor(
    private readonly table: TableClient,
    private readonly log: Logger | undefined,
  ) {}

  /** The account's row; an empty state when there is none yet. */
  async read(connectionId: string, options: OperationOptions = {}): Promise<GovernorRow> {
    const entity = await getEntity(this.table, partitionKeyOf(connectionId), ROW_KEY, storedRowSchema, options);
    if (entity === undefined) return { state: emptyState(), etag: undefined };
    const etag = typeof entity.etag === 'string' ? entity.etag : undefined;
    const state = typeof entity.state === 'string' ? governorStateSchema.safeParse(parseJson(entity.state)) : undefined;
    if (state?.success && etag !== undefined) return { state: state.data, etag };
    // A row we cannot read is replaced (with its ETag) rather than blocking the account forever.
    this.log?.warn('Rate governor state was unreadable and is reset', { connectionId });
    return { state: emptyState(), etag };
  }

  /** Writes the state if nobody changed it since it was read (`etag`); false when someone did. */
  async write(connectionId: string, state: GovernorState, etag: string | undefined, options: OperationOptions = {}): Promise<boolean> {
    const entity = { partitionKey: partitionKeyOf(connectionId), rowKey: ROW_KEY, state: JSON.stringify(state) };
    if (etag === undefined) return createEntityIfAbsent(this.table, entity, options);
    return (await replaceEntityIfUnchanged(this.table, entity, etag, options)) !== undefined;
  }
}

/** Table keys may not hold `/ \ # ?` or control characters: such ids are hashed. */
function partitionKeyOf(connectionId: string): string {
  return /^[A-Za-z0-9_.:@-]{1,200}$/.test(connectionId)
    ? connectionId
    : `h-${createHash('sha256').update(connectionId).digest('hex')}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
