import { authorize } from '../src/api/auth';
import { deleteAuditedSegment, readSegmentId } from '../src/api/segments';
import { getAppContext } from '../src/app/context';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const segmentsDelete = defineHttp('segments-delete', { route: 'api/segments/{segmentId}', methods: ['DELETE'] }, async (request) => {
  const principal = authorize(request, 'segment:write');
  await deleteAuditedSegment(getAppContext(), principal, readSegmentId(request));
  return { status: 204 };
});

app.http(segmentsDelete.name, segmentsDelete.options);
