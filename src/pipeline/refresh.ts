// The scheduled refresh: one run of every export for a schedule occurrence. Run ids derive from
// the occurrence, so a tick delivered twice (two instances, a retry) creates each run once; an
// export that is still running records a `skipped` run.
import type { AppContext } from '../app/context';
import type { RunDoc } from '../domain/run';
import { recordAudit } from '../audit/repository';
import { SCHEDULE_ACTOR } from '../domain/audit';
import { listExports } from '../exports/repository';
import { parseNcrontab } from '../schedule/ncrontab';
import { scheduledRunId, startRun } from './runs';

export async function runScheduledRefresh(context: AppContext, occurrence: Date, requestedBy: string): Promise<RunDoc[]> {
  const runs: RunDoc[] = [];
  for await (const stored of listExports(context)) {
    // An export being deleted with its members is finished by its cleanup run, not scheduled.
    if (stored.deleting) continue;
    const exportId = stored.export.id;
    try {
      const run = await startRun(context, exportId, { trigger: 'schedule', mode: 'delta', dryRun: false, requestedBy, runId: scheduledRunId(exportId, occurrence) });
      runs.push(run);
      // The timer's runs are the schedule's; a refresh run now through the API is audited there, with its caller.
      if (requestedBy === SCHEDULE_ACTOR.userId) {
        await recordAudit(context, { actor: SCHEDULE_ACTOR, action: 'start', resourceType: 'run', resourceId: run.runId, summary: `export ${exportId}: scheduled (${run.status})` });
      }
    } catch (error) {
      context.log.error('scheduled run could not start', { exportId, error: error instanceof Error ? error : String(error) });
    }
  }
  return runs;
}

/** The schedule occurrence a timer invocation at `firedAt` belongs to: the latest one not after it. */
export function occurrenceOf(schedule: string, firedAt: Date): Date {
  const cron = parseNcrontab(schedule);
  // A timer may fire a little early; the occurrence it was meant for still counts.
  const limit = firedAt.getTime() + 1_000;
  for (const lookBackInMs of [2 * 3_600_000, 86_400_000, 8 * 86_400_000, 32 * 86_400_000, 400 * 86_400_000]) {
    let occurrence = cron.next(new Date(firedAt.getTime() - lookBackInMs));
    if (occurrence.getTime() > limit) continue;
    for (let next = cron.next(occurrence); next.getTime() <= limit; next = cron.next(next)) occurrence = next;
    return occurrence;
  }
  return new Date(Math.floor(firedAt.getTime() / 1000) * 1000);
}
