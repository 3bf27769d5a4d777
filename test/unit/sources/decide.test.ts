import { describe, expect, it } from 'vitest';
import { CLAIM_LEASE_IN_MS, decideEntity, fileKey, type EntityState } from '../../../src/sources/decide';

const now = new Date('2025-03-01T12:00:00Z');
const file = { path: 'ci/export/model.json', etag: '"0x2"', lastModified: '2025-03-01T11:00:00.000Z' };
const older = { path: 'ci/export/model.json', etag: '"0x1"', lastModified: '2025-03-01T10:00:00.000Z' };
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();

describe('what a scan does with an entity it found', () => {
  it.each<[string, EntityState | undefined, ReturnType<typeof decideEntity>]>([
    ['a new entity is ingested', undefined, { action: 'ingest' }],
    ['a newer export is ingested', { lastIngested: older }, { action: 'ingest' }],
    ['the same file (path and ETag) again is not: an event delivered twice makes one version', { lastIngested: file }, { action: 'skip', why: 'already-ingested' }],
    ['an older export than the one ingested is not', { lastIngested: { ...file, etag: '"0x3"', lastModified: '2025-03-01T11:30:00.000Z' } }, { action: 'skip', why: 'older-than-ingested' }],
    ['a file that failed for good is not tried again', { lastError: { key: fileKey(file), willRetry: false } }, { action: 'skip', why: 'failed-before' }],
    ['a file that failed for a passing reason is', { lastError: { key: fileKey(file), willRetry: true } }, { action: 'ingest' }],
    ['a newer file after a failed one is', { lastError: { key: fileKey(older), willRetry: false } }, { action: 'ingest' }],
    ['an entity another scan is ingesting waits for it', { claim: { key: fileKey(file), since: ago(60_000) } }, { action: 'busy', key: fileKey(file) }],
    ['a claim older than the lease is taken over (its scan died)', { claim: { key: fileKey(file), since: ago(CLAIM_LEASE_IN_MS + 1) } }, { action: 'ingest' }],
    ['an ingested file is skipped even while claimed', { lastIngested: file, claim: { key: fileKey(file), since: ago(1) } }, { action: 'skip', why: 'already-ingested' }],
  ])('%s', (_, state, expected) => {
    expect(decideEntity(state, file, now)).toEqual(expected);
  });
});
