// Plans one destination target: streams the members of the segments that feed it, classifies
// each against the target's ledger (see `classify.ts`), and acts on the verdict — counts it,
// rejects it, writes it into a chunk, records it in the run's new ledger snapshot. Then every
// member the ledger holds that no segment has any more becomes a removal, unless it is foreign
// (in the target before the export first added anyone). Before the first add into a target, its
// current members are read from the provider and recorded as foreign.
import type { AppContext } from '../../app/context';
import type { Export } from '../../domain/export';
import type { RunDoc } from '../../domain/run';
import type { Segment } from '../../domain/segment';
import { readSegmentRows } from '../../segments/reader';
import type { ProviderAccount } from '../accounts';
import type { EventLoopPace } from '../pacing';
import type { PlannerTotals } from '../run-state';
import type { PlannerRejects } from '../store/rejects';
import type { ChunkWriter } from './chunker';
import { classifyLedgerEntry, classifyMember, type MemberVerdict } from './classify';
import type { ContactExistence } from './directory';
import { normalizeEmail } from './email';
import { readForeignMembers, type ForeignMembers } from './foreign';
import { hashEmail, type Hash64 } from '../../hashing/hash';
import { HashIndex } from '../../hashing/hash-index';
import { FLAG_FOREIGN, FLAG_PRESENT, FLAG_SEEN, FLAG_STALE, loadLedger, scanSnapshot, SnapshotWriter, type LedgerEntry, type LoadedLedger } from './ledger';
import { MappedColumns } from './mapping';
import type { ProgressReporter } from './progress';
import type { TargetPlan } from './targets';
import type { SuppressionMatcher } from '../../privacy/suppressions';

export interface PlanningSession {
  context: AppContext;
  run: RunDoc;
  exp: Export;
  account: ProviderAccount;
  segments: ReadonlyMap<string, Segment>;
  totals: PlannerTotals;
  writer: ChunkWriter;
  rejects: PlannerRejects;
  progress: ProgressReporter;
  pace: EventLoopPace;
  /** What the provider has, where a status must only be sent to contacts it does not have. */
  existence: ContactExistence | undefined;
  /** Erased people: never sent. */
  suppressions: SuppressionMatcher;
  abortSignal?: AbortSignal;
}

/** One stored row of a segment feeding the target, with how the export's mapping reads it. */
interface SegmentRow {
  row: readonly string[];
  columns: MappedColumns;
  /** The segment's position among the target's segments. */
  segmentIndex: number;
  segmentId: string;
}

/** What planning a target found: a retired target that has nothing left to remove is forgotten. */
export interface TargetOutcome {
  removes: number;
  /** The members the new snapshot holds (its `P` and `F` lines): the next run sizes its tables with it. */
  members: number;
}

const DUPLICATE_REASON = 'Another member of this segment has the same email; the first one is exported';
const SUPPRESSED_REASON = 'This person was erased (a data-subject erasure): never sent while the suppression stands';

/** A suppressed person's address as a reject shows it: the app does not keep an erased address. */
export function maskEmail(email: string): string {
  const at = email.indexOf('@');
  return at <= 0 ? '***' : `${email[0]}***${email.slice(at)}`;
}
const NO_FOREIGN: ForeignMembers = { index: new HashIndex(16), emails: [] };

export class TargetPlanner {
  /** The ledger's members and, flagged `FLAG_SEEN` with their segment as the tag, every email seen this run: one table, not two. */
  private readonly index: HashIndex;
  private readonly snapshot: SnapshotWriter | undefined;
  private removes = 0;

  private constructor(
    private readonly session: PlanningSession,
    private readonly target: TargetPlan,
    private readonly targetIndex: number,
    private readonly ledger: LoadedLedger,
    private readonly foreign: ForeignMembers,
  ) {
    const { context, run, exp } = session;
    this.index = ledger.index;
    this.snapshot = run.dryRun ? undefined : new SnapshotWriter(context, exp.id, target.key, run.runId);
  }

  /** Plans the target whole: members, then removals, then its last chunks and its snapshot. */
  static async plan(session: PlanningSession, target: TargetPlan, targetIndex: number): Promise<TargetOutcome> {
    const { context, exp, run, account, abortSignal } = session;
    const segmentMembers = target.segmentIds.reduce((sum, id) => sum + (session.segments.get(id)?.memberCount ?? 0), 0);
    const ledger = await loadLedger(context, exp.id, target.key, run.runId, { abortSignal, segmentMembers });
    // A first run into a target: whoever is there already is foreign to this export.
    const foreign = ledger.base || target.retired ? NO_FOREIGN : await readForeignMembers(context, account, target.target, abortSignal);
    const planner = new TargetPlanner(session, target, targetIndex, ledger, foreign);
    try {
      for (const [segmentIndex, segmentId] of target.segmentIds.entries()) await planner.planSegment(segmentIndex, segmentId);
      await planner.planLedger();
      await planner.recordForeign();
      if (!run.dryRun) await session.writer.flushTarget(target);
      await planner.snapshot?.close();
    } catch (error) {
      planner.snapshot?.abort();
      throw error;
    }
    return { removes: planner.removes, members: planner.snapshot?.members ?? 0 };
  }

  private async planSegment(segmentIndex: number, segmentId: string): Promise<void> {
    const { context, segments, progress, pace, abortSignal } = this.session;
    const version = segments.get(segmentId)!.version;
    let columns: MappedColumns | undefined;
    for await (const batch of readSegmentRows(context, segmentId, version, { abortSignal })) {
      columns ??= new MappedColumns(this.session.exp.mapping, batch.fields);
      for (const row of batch.rows) await this.planMember({ row, columns, segmentIndex, segmentId });
      await progress.tick();
      await pace.yield();
    }
  }

  private async planMember(member: SegmentRow): Promise<void> {
    const { run, totals, rejects } = this.session;
    const { row, columns, segmentIndex, segmentId } = member;
    totals.profiles++;
    const raw = columns.emailOf(row);
    const email = normalizeEmail(raw);
    if (!email.ok) {
      totals.invalid++;
      await rejects.add(this.targetIndex, { email: raw ?? '', segmentId, code: email.code, reason: email.reason });
      return;
    }
    const key = hashEmail(email.email);
    const slot = this.index.find(key);
    const flags = slot >= 0 ? this.index.flagsAt(slot) : 0;
    // Every entry the ledger loaded is present; one this run added for a new email is only seen.
    const ledgerSlot = (flags & FLAG_PRESENT) !== 0 ? slot : -1;
    const fieldsHash = columns.fieldsHash(row);
    const foreign = ledgerSlot >= 0 ? (flags & FLAG_FOREIGN) !== 0 : this.foreign.index.find(key) >= 0;
    const verdict = classifyMember({
      email,
      segmentIndex,
      seenInSegment: (flags & FLAG_SEEN) !== 0 ? this.index.tagAt(slot) : undefined,
      ledger: ledgerSlot < 0 ? undefined : { fieldsHash: this.index.valueAt(ledgerSlot), stale: (flags & FLAG_STALE) !== 0 },
      foreign,
      fieldsHash,
      mode: run.mode,
      suppressed: this.session.suppressions.size > 0 && this.session.suppressions.has(email.email),
    });
    switch (verdict) {
      case 'invalid':
      case 'already-planned':
        return;
      case 'duplicate':
        totals.duplicates++;
        return await rejects.add(this.targetIndex, { email: email.email, segmentId, code: 'duplicate', reason: DUPLICATE_REASON });
      case 'suppressed':
        this.markSeen(key, slot, segmentIndex);
        return await this.suppress(email.email, ledgerSlot, foreign, segmentId);
      default:
        this.markSeen(key, slot, segmentIndex);
        if (this.target.removalsOnly) return await this.keepAsItIs(email.email, ledgerSlot, foreign);
        await this.send(verdict, { email: email.email, key }, member);
        await this.snapshot?.write(email.email, fieldsHash, foreign ? 'F' : 'P');
    }
  }

  /**
   * Records that this run has the email, from this segment (a ledger entry keeps its value; a new
   * one gets an entry of its own, which may grow the table: slots found before are then stale, but
   * that only happens when there was no ledger slot to use).
   */
  private markSeen(key: Hash64, slot: number, segmentIndex: number): void {
    if (slot >= 0) this.index.addFlags(slot, FLAG_SEEN);
    else slot = this.index.set(key, 0, FLAG_SEEN);
    this.index.setTag(slot, segmentIndex);
  }

  private seenThisRun(key: Hash64): boolean {
    const slot = this.index.find(key);
    return slot >= 0 && (this.index.flagsAt(slot) & FLAG_SEEN) !== 0;
  }

  /** Counted and listed (masked), never sent; what the ledger holds of them is kept as it was. */
  private async suppress(email: string, ledgerSlot: number, foreign: boolean, segmentId: string): Promise<void> {
    const { totals, rejects } = this.session;
    totals.suppressed = (totals.suppressed ?? 0) + 1;
    await this.keepAsItIs(email, ledgerSlot, foreign);
    await rejects.add(this.targetIndex, { email: maskEmail(email), segmentId, code: 'suppressed', reason: SUPPRESSED_REASON });
  }

  /**
   * A cleanup run sends no adds or updates: a member the target holds is recorded as the ledger
   * had it (so that the next run still sends a change), and one it does not hold is not recorded.
   */
  private async keepAsItIs(email: string, ledgerSlot: number, foreign: boolean): Promise<void> {
    if (ledgerSlot < 0) return;
    const stale = (this.index.flagsAt(ledgerSlot) & FLAG_STALE) !== 0;
    // A stale member's last update failed: a hash no mapping has (0 in 2^53) makes the next run send it.
    await this.snapshot?.write(email, stale ? 0 : this.index.valueAt(ledgerSlot), foreign ? 'F' : 'P');
  }

  /** Counts an add, update or unchanged member and puts the first two into a chunk. */
  private async send(verdict: Extract<MemberVerdict, 'add' | 'update' | 'unchanged'>, person: { email: string; key: Hash64 }, member: SegmentRow): Promise<void> {
    const { run, totals, writer, existence, abortSignal } = this.session;
    if (verdict === 'unchanged') {
      totals.unchanged++;
      return;
    }
    const isNew = verdict === 'add';
    if (isNew) totals.adds++;
    else totals.updates++;
    if (run.dryRun) return;
    // A status may only go to a contact the provider does not have: ask it about every add.
    const knownToProvider = existence === undefined ? undefined : isNew ? await existence.has(person.email, person.key, abortSignal) : true;
    const fields = member.columns.fields(member.row);
    await writer.addUpsert(this.target, { email: person.email, fields, isNew, segmentId: member.segmentId, knownToProvider });
  }

  /** Members this export put in the target that are in none of the segments feeding it now; foreign ones stay. */
  private async planLedger(): Promise<void> {
    const { context, abortSignal } = this.session;
    if (!this.ledger.base) return;
    await scanSnapshot(context, this.ledger.base, this.ledger.exceptions, (entry) => this.planLedgerEntry(entry), { abortSignal });
  }

  private async planLedgerEntry(entry: LedgerEntry): Promise<void> {
    const { run, totals, writer, progress, pace } = this.session;
    const seenThisRun = this.seenThisRun(entry.key);
    const suppressed = !seenThisRun && !entry.foreign && this.session.suppressions.size > 0 && this.session.suppressions.has(entry.email());
    if (classifyLedgerEntry({ seenThisRun, foreign: entry.foreign, suppressed }) === 'keep') {
      // A foreign member who left the segments stays foreign in the next snapshot; a suppressed one stays ours until its erasure.
      if (!seenThisRun) await this.snapshot?.write(entry.email(), suppressed && entry.stale ? 0 : entry.fieldsHash, suppressed ? 'P' : 'F');
      return;
    }
    const email = entry.email();
    totals.removes++;
    this.removes++;
    if (!run.dryRun) await writer.addRemove(this.target, email);
    await this.snapshot?.write(email, entry.fieldsHash, 'R');
    await progress.tick();
    await pace.yield();
  }

  /** The foreign members read this run that no segment has: the ledger must know them too. */
  private async recordForeign(): Promise<void> {
    for (const email of this.foreign.emails) {
      if (!this.seenThisRun(hashEmail(email))) await this.snapshot?.write(email, 0, 'F');
    }
  }
}
