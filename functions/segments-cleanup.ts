import { getAppContext } from '../src/app/context';
import { defineTimer } from '../src/app/definitions';
import { sweepSegments } from '../src/segments/versions';
import { app } from './app';

/** Hourly: removes segment versions whose runs ended or crashed, and abandoned uploads. */
export const segmentsCleanup = defineTimer('segments-cleanup', { schedule: '0 17 * * * *' }, async () => {
  await sweepSegments(getAppContext());
});

app.timer(segmentsCleanup.name, segmentsCleanup.options);
