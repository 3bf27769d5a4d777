import { authorize } from '../src/api/auth';
import { readSegmentId } from '../src/api/segments';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { requireSegment } from '../src/segments/repository';
import { app } from './app';

export const segmentsGet = defineHttp('segments-get', { route: 'api/segments/{segmentId}', methods: ['GET'] }, async (request) => {
  authorize(request, 'segment:read');
  return json(200, await requireSegment(getAppContext(), readSegmentId(request)));
});

app.http(segmentsGet.name, segmentsGet.options);
