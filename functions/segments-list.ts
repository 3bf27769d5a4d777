import { authorize } from '../src/api/auth';
import { listVisibleSegments } from '../src/api/segments';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { app } from './app';

export const segmentsList = defineHttp('segments-list', { route: 'api/segments', methods: ['GET'] }, async (request) => {
  const principal = authorize(request, 'segment:read');
  return json(200, { items: await listVisibleSegments(getAppContext(), principal) });
});

app.http(segmentsList.name, segmentsList.options);
