import { describe, expect, it } from 'vitest';
import { classifyLedgerEntry, classifyMember, type MemberFacts, type MemberVerdict } from '../../../src/pipeline/plan/classify';

const ok = { ok: true as const, email: 'ann@example.com' };
const base: MemberFacts = { email: ok, segmentIndex: 0, seenInSegment: undefined, ledger: undefined, foreign: false, fieldsHash: 42, mode: 'delta' };

describe('classifyMember', () => {
  it.each<[string, Partial<MemberFacts>, MemberVerdict]>([
    ['an empty email is invalid', { email: { ok: false, code: 'missing_email', reason: 'empty' } }, 'invalid'],
    ['a malformed email is invalid, even when seen before', { email: { ok: false, code: 'invalid_email', reason: 'bad' }, seenInSegment: 0 }, 'invalid'],
    ['the same email twice in one segment is a duplicate', { seenInSegment: 0 }, 'duplicate'],
    ['a duplicate wins over what the ledger holds', { seenInSegment: 1, segmentIndex: 1, ledger: { fieldsHash: 42, stale: false } }, 'duplicate'],
    ['the same email in another segment of the target is already planned', { seenInSegment: 0, segmentIndex: 1 }, 'already-planned'],
    ['a member the ledger does not hold is an add', {}, 'add'],
    ['an add stays an add in a full run', { mode: 'full' }, 'add'],
    ['a member with the same fields is unchanged', { ledger: { fieldsHash: 42, stale: false } }, 'unchanged'],
    ['a member with other fields is an update', { ledger: { fieldsHash: 7, stale: false } }, 'update'],
    ['a member whose last update failed (stale) is an update', { ledger: { fieldsHash: 42, stale: true } }, 'update'],
    ['a full run updates an unchanged member', { ledger: { fieldsHash: 42, stale: false }, mode: 'full' }, 'update'],
    ['a foreign member the ledger does not hold yet is an update, never an add', { foreign: true }, 'update'],
    ['a foreign member the ledger holds with the same fields is unchanged', { foreign: true, ledger: { fieldsHash: 42, stale: false } }, 'unchanged'],
    ['a suppressed member is never an add', { suppressed: true }, 'suppressed'],
    ['a suppressed member the ledger holds is never an update', { suppressed: true, ledger: { fieldsHash: 7, stale: false } }, 'suppressed'],
    ['a suppressed member is not sent by a full run either', { suppressed: true, ledger: { fieldsHash: 42, stale: false }, mode: 'full' }, 'suppressed'],
    ['a suppressed foreign member is not sent', { suppressed: true, foreign: true }, 'suppressed'],
    ['an invalid email stays invalid, suppressed or not', { suppressed: true, email: { ok: false, code: 'invalid_email', reason: 'bad' } }, 'invalid'],
    ['a suppressed member twice in one segment is a duplicate', { suppressed: true, seenInSegment: 0 }, 'duplicate'],
  ])('%s', (_name, facts, verdict) => {
    expect(classifyMember({ ...base, ...facts })).toBe(verdict);
  });
});

describe('classifyLedgerEntry', () => {
  it.each([
    [true, false, 'keep'],
    [false, false, 'remove'],
    [true, true, 'keep'],
    [false, true, 'keep'],
  ] as const)('a ledger member seen this run: %s, foreign: %s -> %s', (seenThisRun, foreign, verdict) => {
    expect(classifyLedgerEntry({ seenThisRun, foreign })).toBe(verdict);
  });

  it('keeps a suppressed member who left the segments: its erasure removes them, not a run', () => {
    expect(classifyLedgerEntry({ seenThisRun: false, foreign: false, suppressed: true })).toBe('keep');
  });
});
