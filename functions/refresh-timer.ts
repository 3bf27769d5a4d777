import { getAppContext } from '../src/app/context';
import { defineTimer } from '../src/app/definitions';
import { occurrenceOf, runScheduledRefresh } from '../src/pipeline/refresh';
import { app } from './app';

export const refreshTimer = defineTimer('refresh-timer', { schedule: '%REFRESH_SCHEDULE%' }, async () => {
  const context = getAppContext();
  await runScheduledRefresh(context, occurrenceOf(context.config.refreshSchedule, context.now()), 'schedule');
});

app.timer(refreshTimer.name, refreshTimer.options);
