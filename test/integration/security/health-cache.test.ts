import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { health } from '../../../functions/health';
import { KeyVaultSecretStore } from '../../../src/secrets/key-vault';
import { createTestContext } from '../../support/context';
import { fakeCredential, fakeVaultClientOptions, startFakeKeyVault, type FakeKeyVault } from '../../support/fake-key-vault';
import { invokeHttp } from '../../support/http';

let vault: FakeKeyVault;
beforeAll(async () => {
  vault = await startFakeKeyVault();
});
afterAll(async () => {
  await vault.close();
});

describe('finding 5: the anonymous health route cannot be used to amplify calls', () => {
  it('answers 100 concurrent calls with at most one Key Vault call, and names no secret doing it', async () => {
    await createTestContext({ secrets: new KeyVaultSecretStore(vault.url, fakeCredential, { clientOptions: fakeVaultClientOptions }) });
    vault.requests.length = 0;

    const responses = await Promise.all(Array.from({ length: 100 }, () => invokeHttp(health)));

    expect(responses.map((response) => response.status)).toEqual(Array.from({ length: 100 }, () => 200));
    expect(responses[0]!.body).toMatchObject({ status: 'healthy', checks: { keyVault: { state: 'up' } } });
    const vaultCalls = vault.requests.filter((request) => request.authorized);
    expect(vaultCalls.length).toBeLessThanOrEqual(1);
    // A read of one absent secret, not a listing of the vault's secret names.
    expect(vaultCalls.every((request) => request.method === 'GET' && request.path !== '/secrets')).toBe(true);

    const again = await invokeHttp(health);
    expect(again.status).toBe(200);
    expect(vault.requests.filter((request) => request.authorized).length).toBe(vaultCalls.length);
  });

  it('reports the vault down when the identity may not read it', async () => {
    const wrongToken = { getToken: async () => ({ token: 'wrong', expiresOnTimestamp: Date.now() + 60_000 }) };
    await createTestContext({ secrets: new KeyVaultSecretStore(vault.url, wrongToken, { clientOptions: fakeVaultClientOptions }) });
    const response = await invokeHttp(health);
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ status: 'unhealthy', checks: { keyVault: { state: 'down' } } });
  });
});
