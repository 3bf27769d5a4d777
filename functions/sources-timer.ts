import { getAppContext } from '../src/app/context';
import { defineTimer } from '../src/app/definitions';
import { enqueueScheduledScans } from '../src/pipeline/sources';
import { app } from './app';

// Rescans every source for what an event did not bring (a lost event, an export completed later).
export const sourcesTimer = defineTimer('sources-timer', { schedule: '%SOURCE_SCAN_SCHEDULE%' }, async () => {
  await enqueueScheduledScans(getAppContext());
});

app.timer(sourcesTimer.name, sourcesTimer.options);
