import { checkHealth } from '../src/api/health';
import { getAppContext } from '../src/app/context';
import { defineHttp, json } from '../src/app/definitions';
import { app } from './app';

export const health = defineHttp('health', { route: 'api/health', methods: ['GET'] }, async () => {
  const report = await checkHealth(getAppContext());
  return json(report.status === 'healthy' ? 200 : 503, report);
});

app.http(health.name, health.options);
