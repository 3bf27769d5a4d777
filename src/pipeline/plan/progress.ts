// The planner's totals, published on the run every few seconds; publishing is also how the
// planner notices that the run was cancelled (it stops with `RunStopped`).
import type { AppContext } from '../../app/context';
import { reportPlanningProgress, type PlannerTotals } from '../run-state';

const PROGRESS_INTERVAL_IN_MS = 2_000;

export class RunStopped extends Error {}

export function emptyPlannerTotals(): PlannerTotals {
  return { profiles: 0, invalid: 0, duplicates: 0, adds: 0, updates: 0, removes: 0, unchanged: 0, suppressed: 0 };
}

export class ProgressReporter {
  private last = Date.now();

  constructor(
    private readonly context: AppContext,
    private readonly runId: string,
    private readonly totals: PlannerTotals,
    private readonly chunksWritten: () => number,
  ) {}

  async tick(): Promise<void> {
    if (Date.now() - this.last < PROGRESS_INTERVAL_IN_MS) return;
    this.last = Date.now();
    if (!(await reportPlanningProgress(this.context, this.runId, this.totals, this.chunksWritten()))) throw new RunStopped();
  }
}
