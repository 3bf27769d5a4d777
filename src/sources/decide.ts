// What a scan does with one entity it found, given what the entity's row says: a pure table of
// early returns, read like the spec (test/unit/sources/decide.test.ts). Idempotency is by the
// descriptor's path and ETag: the same file seen twice (an event delivered twice, a scan after an
// event) is ingested once.
import type { SourceFile } from '../domain/source';

export interface EntityState {
  lastIngested?: SourceFile;
  /** The file of the last failure, and whether trying the same file again may help. */
  lastError?: { key: string; willRetry: boolean };
  /** A scan that is ingesting a file now (its lease started at `since`). */
  claim?: { key: string; since: string };
}

export type EntityDecision =
  | { action: 'ingest' }
  | { action: 'skip'; why: 'already-ingested' | 'older-than-ingested' | 'failed-before' }
  | { action: 'busy'; key: string };

/** How long a claim holds: longer than any ingestion runs (the function timeout is 10 minutes). */
export const CLAIM_LEASE_IN_MS = 15 * 60 * 1000;

export function fileKey(file: Pick<SourceFile, 'path' | 'etag'>): string {
  return `${file.path}@${file.etag}`;
}

export function decideEntity(state: EntityState | undefined, file: SourceFile, now: Date, leaseInMs = CLAIM_LEASE_IN_MS): EntityDecision {
  const key = fileKey(file);
  const ingested = state?.lastIngested;
  if (ingested && fileKey(ingested) === key) return { action: 'skip', why: 'already-ingested' };
  // A later export supersedes an earlier one, never the other way round.
  if (ingested && Date.parse(file.lastModified) < Date.parse(ingested.lastModified)) return { action: 'skip', why: 'older-than-ingested' };
  if (state?.lastError && state.lastError.key === key && !state.lastError.willRetry) return { action: 'skip', why: 'failed-before' };
  const claim = state?.claim;
  if (claim && now.getTime() - Date.parse(claim.since) < leaseInMs) return { action: 'busy', key: claim.key };
  return { action: 'ingest' };
}
