import { authorize } from '../src/api/auth';
import { uploadSegment } from '../src/api/segments';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { app } from './app';

export const segmentsPut = defineHttp('segments-put', { route: 'api/segments/{segmentId}', methods: ['PUT'] }, async (request) => {
  const principal = authorize(request, 'segment:write');
  return json(200, await uploadSegment(getAppContext(), principal, request));
});

app.http(segmentsPut.name, segmentsPut.options);
