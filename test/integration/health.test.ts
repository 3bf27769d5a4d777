import { describe, expect, it } from 'vitest';
import { health } from '../../functions/health';
import { createAppContext, setAppContext } from '../../src/app/context';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { LocalSecretStore } from '../../src/secrets/local-store';
import { createTestContext } from '../support/context';
import { invokeHttp } from '../support/http';

const invoke = () => invokeHttp(health);

describe('GET /api/health', () => {
  it('answers 200 with every dependency up when storage is reachable', async () => {
    await createTestContext();
    const response = await invoke();
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: 'healthy',
      checks: { tables: { state: 'up' }, queues: { state: 'up' }, blobs: { state: 'up' } },
    });
  });

  it('answers 503 naming the dependency that is down', async () => {
    const config = loadConfig({
      AzureWebJobsStorage:
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;TableEndpoint=http://127.0.0.1:1/devstoreaccount1',
    });
    setAppContext(
      createAppContext({ config, secrets: new LocalSecretStore('unused.json'), log: createLogger(() => undefined) }),
    );
    const response = await invoke();
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ status: 'unhealthy', checks: { tables: { state: 'down' } } });
    expect(JSON.stringify(response.body)).not.toMatch(/127\.0\.0\.1|devstoreaccount1/);
  });
});
