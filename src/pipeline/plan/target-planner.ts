// Plans one destination target: streams the members of the segments that feed it, classifies
// each against the target's ledger (see `classify.ts`), and acts on the verdict — counts it,
// rejects it, writes it into a chunk, records it in the run's new ledger snapshot. Then every
// member the ledger holds that no segment has any more becomes a removal.
import type { AppContext } from '../../app/context';
import type { Export } from '../../domain/export';
import type { RunDoc } from '../../domain/run';
import type { Segment } from '../../domain/segment';
import { readSegmentBatches } from '../../segments/reader';
import type { EventLoopPace } from '../pacing';
import type { PlannerTotals } from '../run-state';
import type { PlannerRejects } from '../store/rejects';
import type { ChunkWriter } from './chunker';
import { classifyLedgerEntry, classifyMember, type MemberVerdict } from './classify';
import { normalizeEmail } from './email';
import { hashEmail } from './hash';
import { HashIndex } from './hash-index';
import { FLAG_SEEN, FLAG_STALE, loadLedger, scanSnapshot, SnapshotWriter, type LedgerEntry, type LoadedLedger } from './ledger';
import { mapFields, mappedFieldsHash } from './mapping';
import type { ProgressReporter } from './progress';
import type { TargetPlan } from './targets';

export interface PlanningSession {
  context: AppContext;
  run: RunDoc;
  exp: Export;
  segments: ReadonlyMap<string, Segment>;
  totals: PlannerTotals;
  writer: ChunkWriter;
  rejects: PlannerRejects;
  progress: ProgressReporter;
  pace: EventLoopPace;
  abortSignal?: AbortSignal;
}

const DUPLICATE_REASON = 'Another member of this segment has the same email; the first one is exported';

export class TargetPlanner {
  private readonly seen: HashIndex;
  private readonly snapshot: SnapshotWriter | undefined;

  private constructor(
    private readonly session: PlanningSession,
    private readonly target: TargetPlan,
    private readonly targetIndex: number,
    private readonly ledger: LoadedLedger,
  ) {
    const { context, run, exp } = session;
    this.seen = new HashIndex(ledger.index.size + 1024);
    this.snapshot = run.dryRun ? undefined : new SnapshotWriter(context, exp.id, target.key, run.runId);
  }

  /** Plans the target whole: members, then removals, then its last chunks and its snapshot. */
  static async plan(session: PlanningSession, target: TargetPlan, targetIndex: number): Promise<void> {
    const { context, exp, run, abortSignal } = session;
    const ledger = await loadLedger(context, exp.id, target.key, run.runId, { abortSignal });
    const planner = new TargetPlanner(session, target, targetIndex, ledger);
    try {
      for (const [segmentIndex, segmentId] of target.segmentIds.entries()) await planner.planSegment(segmentIndex, segmentId);
      await planner.planRemovals();
      if (!run.dryRun) await session.writer.flushTarget(target);
      await planner.snapshot?.close();
    } catch (error) {
      planner.snapshot?.abort();
      throw error;
    }
  }

  private async planSegment(segmentIndex: number, segmentId: string): Promise<void> {
    const { context, segments, progress, pace, abortSignal } = this.session;
    const version = segments.get(segmentId)!.version;
    for await (const batch of readSegmentBatches(context, segmentId, version, { abortSignal })) {
      for (const member of batch) await this.planMember(member.values, segmentIndex, segmentId);
      await progress.tick();
      await pace.yield();
    }
  }

  private async planMember(values: Readonly<Record<string, string>>, segmentIndex: number, segmentId: string): Promise<void> {
    const { exp, run, totals, rejects } = this.session;
    totals.profiles++;
    const raw = values[exp.mapping.email];
    const email = normalizeEmail(raw);
    if (!email.ok) {
      totals.invalid++;
      await rejects.add(this.targetIndex, { email: raw ?? '', segmentId, code: email.code, reason: email.reason });
      return;
    }
    const key = hashEmail(email.email);
    const seenSlot = this.seen.find(key);
    const ledgerSlot = this.ledger.index.find(key);
    const fieldsHash = mappedFieldsHash(values, exp.mapping);
    const verdict = classifyMember({
      email,
      segmentIndex,
      seenInSegment: seenSlot >= 0 ? this.seen.valueAt(seenSlot) : undefined,
      ledger: ledgerSlot < 0 ? undefined : { fieldsHash: this.ledger.index.valueAt(ledgerSlot), stale: (this.ledger.index.flagsAt(ledgerSlot) & FLAG_STALE) !== 0 },
      fieldsHash,
      mode: run.mode,
    });
    switch (verdict) {
      case 'invalid':
      case 'already-planned':
        return;
      case 'duplicate':
        totals.duplicates++;
        return await rejects.add(this.targetIndex, { email: email.email, segmentId, code: 'duplicate', reason: DUPLICATE_REASON });
      default:
        this.seen.set(key, segmentIndex);
        if (ledgerSlot >= 0) this.ledger.index.addFlags(ledgerSlot, FLAG_SEEN);
        await this.send(verdict, email.email, values, segmentId);
        await this.snapshot?.write(email.email, fieldsHash, 'P');
    }
  }

  /** Counts an add, update or unchanged member and puts the first two into a chunk. */
  private async send(verdict: Extract<MemberVerdict, 'add' | 'update' | 'unchanged'>, email: string, values: Readonly<Record<string, string>>, segmentId: string): Promise<void> {
    const { exp, run, totals, writer } = this.session;
    if (verdict === 'unchanged') {
      totals.unchanged++;
      return;
    }
    const isNew = verdict === 'add';
    if (isNew) totals.adds++;
    else totals.updates++;
    if (!run.dryRun) await writer.addUpsert(this.target, { email, fields: mapFields(values, exp.mapping), isNew, segmentId });
  }

  /** Members this export put in the target that are in none of the segments feeding it now. */
  private async planRemovals(): Promise<void> {
    const { context, abortSignal } = this.session;
    if (!this.ledger.base) return;
    await scanSnapshot(context, this.ledger.base, this.ledger.exceptions, (entry) => this.planLedgerEntry(entry), { abortSignal });
  }

  private async planLedgerEntry(entry: LedgerEntry): Promise<void> {
    const { run, totals, writer, progress, pace } = this.session;
    const slot = this.ledger.index.find(entry.key);
    const seenThisRun = slot >= 0 && (this.ledger.index.flagsAt(slot) & FLAG_SEEN) !== 0;
    if (classifyLedgerEntry({ seenThisRun }) === 'keep') return;
    const email = entry.email();
    totals.removes++;
    if (!run.dryRun) await writer.addRemove(this.target, email);
    await this.snapshot?.write(email, entry.fieldsHash, 'R');
    await progress.tick();
    await pace.yield();
  }
}
