import { authorize } from '../src/api/auth';
import { getVisibleSegment, readSegmentId } from '../src/api/segments';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { app } from './app';

export const segmentsGet = defineHttp('segments-get', { route: 'api/segments/{segmentId}', methods: ['GET'] }, async (request) => {
  const principal = authorize(request, 'segment:read');
  return json(200, await getVisibleSegment(getAppContext(), principal, readSegmentId(request)));
});

app.http(segmentsGet.name, segmentsGet.options);
