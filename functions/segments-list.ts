import { authorize } from '../src/api/auth';
import { getAppContext } from '../src/app/context';
import type { Segment } from '../src/domain/segment';
import { defineHttp, json } from '../src/app/definitions';
import { listSegments } from '../src/segments/repository';
import { app } from './app';

export const segmentsList = defineHttp('segments-list', { route: 'api/segments', methods: ['GET'] }, async (request) => {
  authorize(request, 'segment:read');
  const items: Segment[] = [];
  for await (const segment of listSegments(getAppContext())) items.push(segment);
  return json(200, { items });
});

app.http(segmentsList.name, segmentsList.options);
