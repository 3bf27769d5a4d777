// What the planner does with each member and each ledger entry, as pure decisions: the planner
// gathers the facts (the email check, where this email was already seen in the target, what the
// ledger holds for it) and acts on the verdict. Unit tests read these as a table.
import type { RunMode } from '../../domain/run';
import type { EmailCheck } from './email';

export type MemberVerdict =
  /** No usable email: a reject (`missing_email` / `invalid_email`). */
  | 'invalid'
  /** The same person twice in one segment: a reject; the first one is exported. */
  | 'duplicate'
  /** The same person in another segment of the same target (a Brevo list): already planned. */
  | 'already-planned'
  /**
   * An erased person (on the suppression list): never sent, even while in a segment; counted and
   * listed as a reject. What the ledger holds of them stays as it is: the erasure removes them.
   */
  | 'suppressed'
  /** New to the target: sent, with its membership. */
  | 'add'
  /**
   * In the target, with other mapped fields (or a full run, or a failed update): sent again. A
   * foreign member (in the target before this export first added anyone) is never an add: the
   * first time it is an update.
   */
  | 'update'
  /** In the target as it is: nothing to send. */
  | 'unchanged';

export interface MemberFacts {
  email: EmailCheck;
  /** The segment (by position among the target's segments) this member comes from. */
  segmentIndex: number;
  /** Where this email was seen before in this target, if it was. */
  seenInSegment: number | undefined;
  /** What the ledger holds for this email: undefined when the target does not hold it from us. */
  ledger: { fieldsHash: number; stale: boolean } | undefined;
  /** In the target before this export first added anyone (read from the provider, or kept in the ledger). */
  foreign: boolean;
  /** The hash of the member's mapped fields now. */
  fieldsHash: number;
  mode: RunMode;
  /** On the suppression list (an erasure). */
  suppressed?: boolean;
}

export function classifyMember(facts: MemberFacts): MemberVerdict {
  if (!facts.email.ok) return 'invalid';
  if (facts.seenInSegment !== undefined) return facts.seenInSegment === facts.segmentIndex ? 'duplicate' : 'already-planned';
  if (facts.suppressed) return 'suppressed';
  if (!facts.ledger) return facts.foreign ? 'update' : 'add';
  if (facts.mode === 'full' || facts.ledger.stale || facts.ledger.fieldsHash !== facts.fieldsHash) return 'update';
  return 'unchanged';
}

export type LedgerVerdict = 'keep' | 'remove';

/**
 * A member the ledger holds: kept when this run's segments still have them, removed otherwise;
 * a foreign member is never removed, nor a suppressed one (its erasure removes it).
 */
export function classifyLedgerEntry(facts: { seenThisRun: boolean; foreign: boolean; suppressed?: boolean }): LedgerVerdict {
  return facts.seenThisRun || facts.foreign || facts.suppressed === true ? 'keep' : 'remove';
}
