// The safety check: a run that looks like an accident (a renamed column makes every email
// missing, a broken file leaves a tenth of the segment) stops before it sends anything. A survey
// pass reads each target's segments once, counting profiles and invalid emails and marking who is
// still there, so the planned removals are known before the first chunk is written.
import type { AppContext } from '../../app/context';
import { MIN_REMOVALS_CHECKED, safetyOf, type Export } from '../../domain/export';
import type { RunDoc, SafetyReport } from '../../domain/run';
import type { Segment } from '../../domain/segment';
import { readSegmentRows } from '../../segments/reader';
import type { EventLoopPace } from '../pacing';
import { normalizeEmail } from './email';
import { hashEmail } from '../../hashing/hash';
import { FLAG_FOREIGN, FLAG_PRESENT, FLAG_SURVEYED, loadLedger } from './ledger';
import type { TargetPlan } from './targets';

export interface SurveyCounts {
  profiles: number;
  invalid: number;
  /** Valid members the ledgers do not hold: about the adds (duplicates and foreign members included). */
  adds: number;
  /** Planned removals and what the export holds, at the target where removals weigh most. */
  removes: number;
  held: number;
}

export type SafetyStop = Exclude<SafetyReport['stoppedBy'], undefined>;

/** Which threshold, if any, the counts exceed (pure). */
export function safetyVerdict(counts: SurveyCounts, thresholds: ReturnType<typeof safetyOf>): SafetyStop | undefined {
  const { maxRemoveShare, maxInvalidShare } = thresholds;
  if (maxInvalidShare !== null && counts.profiles > 0 && counts.invalid / counts.profiles > maxInvalidShare) return 'invalid_threshold_exceeded';
  if (maxRemoveShare !== null && counts.removes >= MIN_REMOVALS_CHECKED && counts.held > 0 && counts.removes / counts.held > maxRemoveShare) {
    return 'removal_threshold_exceeded';
  }
  return undefined;
}

/** Whether this run needs the survey: a threshold is on, and it could stop (or, dry, report) something. */
export function needsSurvey(run: RunDoc, exp: Export): boolean {
  const thresholds = safetyOf(exp.options);
  if (run.confirmRemovals && !run.dryRun) return false;
  return thresholds.maxInvalidShare !== null || thresholds.maxRemoveShare !== null;
}

/** What the survey needs of a target: its ledger and its segments (not the provider's target: nothing is asked of the provider before the verdict). */
export type SurveyedTarget = Pick<TargetPlan, 'key' | 'segmentIds' | 'retired'>;

export interface SurveyInput {
  context: AppContext;
  run: RunDoc;
  exp: Export;
  segments: ReadonlyMap<string, Segment>;
  pace: EventLoopPace;
  abortSignal?: AbortSignal;
}

/** Counts every target the export feeds (targets it no longer feeds are exempt: their removal was asked for). */
export async function survey(input: SurveyInput, targets: readonly SurveyedTarget[]): Promise<SurveyCounts> {
  const counts: SurveyCounts = { profiles: 0, invalid: 0, adds: 0, removes: 0, held: 0 };
  for (const target of targets) {
    if (target.retired) continue;
    const { removes, held } = await surveyTarget(input, target, counts);
    if (held > 0 && (counts.held === 0 || removes / held > counts.removes / counts.held)) Object.assign(counts, { removes, held });
  }
  return counts;
}

async function surveyTarget(input: SurveyInput, target: SurveyedTarget, counts: SurveyCounts): Promise<{ removes: number; held: number }> {
  const { context, run, exp, segments, pace, abortSignal } = input;
  const ledger = await loadLedger(context, exp.id, target.key, run.runId, { abortSignal });
  for (const segmentId of target.segmentIds) {
    for await (const batch of readSegmentRows(context, segmentId, segments.get(segmentId)!.version, { abortSignal })) {
      const column = batch.fields.indexOf(exp.mapping.email);
      for (const row of batch.rows) {
        counts.profiles++;
        const email = normalizeEmail(column < 0 ? undefined : (row[column] ?? ''));
        if (!email.ok) {
          counts.invalid++;
          continue;
        }
        const slot = ledger.index.find(hashEmail(email.email));
        if (slot >= 0) ledger.index.addFlags(slot, FLAG_SURVEYED);
        else counts.adds++;
      }
      await pace.yield();
    }
  }
  const held = ledger.index.countFlags(FLAG_PRESENT, FLAG_FOREIGN);
  return { held, removes: ledger.index.countFlags(FLAG_PRESENT, FLAG_FOREIGN | FLAG_SURVEYED) };
}
