import { describe, expect, it } from 'vitest';
import { connectionsList } from '../../../functions/connections-list';
import { health } from '../../../functions/health';
import { segmentsList } from '../../../functions/segments-list';
import { appServiceAuthProblem } from '../../../src/api/auth';
import { loadConfig } from '../../../src/config';
import { createTestContext } from '../../support/context';
import { ADMIN, CONTRIBUTOR, invokeHttp } from '../../support/http';

describe('finding 10: in Azure the principal header is trusted only while App Service Authentication is on', () => {
  it.each([
    ['is off', { WEBSITE_SITE_NAME: 'segment-export-prod', WEBSITE_AUTH_ENABLED: 'False' }],
    ['was never set up', { WEBSITE_SITE_NAME: 'segment-export-prod' }],
  ])('refuses every authorized route with 503 authentication_off when it %s, whatever the header says', async (_what, env) => {
    await createTestContext({ env });
    for (const [definition, principal] of [[connectionsList, ADMIN], [segmentsList, CONTRIBUTOR]] as const) {
      const response = await invokeHttp(definition, { principal });
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ error: { code: 'authentication_off' } });
    }
    // The public route still answers: it trusts no principal.
    expect((await invokeHttp(health)).status).toBe(200);
  });

  it('serves authorized routes when it is on, and outside Azure (local host, tests)', async () => {
    await createTestContext({ env: { WEBSITE_SITE_NAME: 'segment-export-prod', WEBSITE_AUTH_ENABLED: 'True' } });
    expect((await invokeHttp(connectionsList, { principal: ADMIN })).status).toBe(200);
    expect((await invokeHttp(connectionsList)).status).toBe(401);
    await createTestContext();
    expect((await invokeHttp(connectionsList, { principal: ADMIN })).status).toBe(200);
  });

  it('names the problem and the app in the start-up message', () => {
    const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
    expect(appServiceAuthProblem(loadConfig({ ...base, WEBSITE_SITE_NAME: 'segment-export-prod', WEBSITE_AUTH_ENABLED: 'false' }))).toMatch(
      /App Service Authentication is not enabled.*'segment-export-prod'/s,
    );
    expect(appServiceAuthProblem(loadConfig({ ...base, WEBSITE_SITE_NAME: 'segment-export-prod', WEBSITE_AUTH_ENABLED: 'true' }))).toBeUndefined();
    expect(appServiceAuthProblem(loadConfig(base))).toBeUndefined();
  });
});
