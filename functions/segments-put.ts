import { parseSegmentUpload, uploadSegment } from '../src/api/segments';
import { authorize } from '../src/api/auth';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { app } from './app';

export const segmentsPut = defineHttp('segments-put', { route: 'api/segments/{segmentId}', methods: ['PUT'] }, async (request) => {
  const principal = authorize(request, 'segment:write');
  const upload = parseSegmentUpload(request);
  const result = await uploadSegment(getAppContext(), { upload, body: request.body, principal });
  return json(200, result);
});

app.http(segmentsPut.name, segmentsPut.options);
