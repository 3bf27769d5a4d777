import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyVaultSecretStore, type KeyVaultSecretStoreOptions } from '../../../src/secrets/key-vault';
import { InvalidSecretNameError } from '../../../src/secrets/secret-store';
import { fakeCredential, fakeVaultClientOptions, startFakeKeyVault, type FakeKeyVault } from '../../support/fake-key-vault';

let vault: FakeKeyVault;
let clockMs = 1_000_000;

beforeEach(async () => {
  vault = await startFakeKeyVault();
});
afterEach(async () => {
  await vault.close();
});

function store(options: KeyVaultSecretStoreOptions = {}): KeyVaultSecretStore {
  return new KeyVaultSecretStore(vault.url, fakeCredential, {
    clientOptions: fakeVaultClientOptions,
    pollIntervalInMs: 1,
    now: () => clockMs,
    ...options,
  });
}

const reads = () => vault.requests.filter((request) => request.method === 'GET' && request.path.startsWith('/secrets/') && request.authorized);

describe('KeyVaultSecretStore with the real SecretClient', () => {
  it('sets and gets a secret after answering the bearer challenge', async () => {
    const secrets = store();
    const stored = await secrets.setSecret('connection-a1', 'key-one');
    expect(stored.name).toBe('connection-a1');
    expect(stored.version).toMatch(/^[0-9a-f]{32}$/);
    expect(vault.requests[0]).toMatchObject({ method: 'PUT', authorized: false });
    expect(await store().getSecret('connection-a1')).toBe('key-one');
    expect(await store().getSecret('connection-a1', { version: stored.version })).toBe('key-one');
  });

  it('rotates: a new version becomes the latest and the old version stays readable by its id', async () => {
    const secrets = store();
    const first = await secrets.setSecret('connection-rot', 'old-key');
    const second = await secrets.setSecret('connection-rot', 'new-key');
    expect(second).toEqual({ name: 'connection-rot', version: expect.any(String) as string });
    expect(second.version).not.toBe(first.version);
    const fresh = store();
    expect(await fresh.getSecret('connection-rot')).toBe('new-key');
    expect(await fresh.getSecret('connection-rot', { version: first.version })).toBe('old-key');
    expect(vault.secrets.get('connection-rot')?.versions).toHaveLength(2);
  });

  it('answers undefined for a missing secret or version', async () => {
    const secrets = store();
    expect(await secrets.getSecret('connection-none')).toBeUndefined();
    await secrets.setSecret('connection-b', 'value-b');
    expect(await secrets.getSecret('connection-b', { version: 'f'.repeat(32) })).toBeUndefined();
  });

  it('serves a version from memory until the cache lifetime ends', async () => {
    const secrets = store({ cacheTtlInMs: 60_000 });
    const { version } = await store().setSecret('connection-cached', 'cached-key');
    expect(await secrets.getSecret('connection-cached', { version })).toBe('cached-key');
    expect(await secrets.getSecret('connection-cached', { version })).toBe('cached-key');
    expect(reads()).toHaveLength(1);
    clockMs += 60_001;
    expect(await secrets.getSecret('connection-cached', { version })).toBe('cached-key');
    expect(reads()).toHaveLength(2);
  });

  it('keeps at most maxCachedSecrets values in memory', async () => {
    const secrets = store({ maxCachedSecrets: 1 });
    const a = await secrets.setSecret('connection-c1', 'value-1');
    await secrets.setSecret('connection-c2', 'value-2');
    expect(await secrets.getSecret('connection-c1', { version: a.version })).toBe('value-1');
    expect(reads()).toHaveLength(1);
  });

  it('deletes: the secret is soft-deleted, unreadable at once, and deleting again succeeds', async () => {
    const secrets = store();
    const { version } = await secrets.setSecret('connection-del', 'doomed');
    await secrets.deleteSecret('connection-del');
    expect(vault.secrets.has('connection-del')).toBe(false);
    expect(vault.deleted.has('connection-del')).toBe(true);
    expect(await secrets.getSecret('connection-del', { version })).toBeUndefined();
    await expect(secrets.deleteSecret('connection-del')).resolves.toBeUndefined();
    await expect(secrets.deleteSecret('connection-never')).resolves.toBeUndefined();
  });

  it('recovers a soft-deleted name and stores the new value there instead of answering 409', async () => {
    vault.seedDeleted('connection-again', 'previous');
    vault.conflictsAfterRecover = 2;
    const stored = await store().setSecret('connection-again', 'current');
    expect(stored.name).toBe('connection-again');
    expect(vault.deleted.has('connection-again')).toBe(false);
    expect(await store().getSecret('connection-again')).toBe('current');
    expect(await store().getSecret('connection-again', { version: stored.version })).toBe('current');
  });

  it('uses a fresh name when the soft-deleted name cannot be recovered', async () => {
    vault.seedDeleted('connection-taken', 'previous');
    vault.denyRecover = true;
    const stored = await store().setSecret('connection-taken', 'current');
    expect(stored.name).toMatch(/^connection-taken-[0-9a-f]{8}$/);
    expect(await store().getSecret(stored.name)).toBe('current');
    expect(vault.deleted.has('connection-taken')).toBe(true);
  });

  it('uses a fresh name when the recovered name stays busy longer than the recovery timeout', async () => {
    vault.seedDeleted('connection-busy', 'previous');
    vault.conflictsAfterRecover = Number.MAX_SAFE_INTEGER;
    const stored = await store({ recoveryTimeoutInMs: 20 }).setSecret('connection-busy', 'current');
    expect(stored.name).toMatch(/^connection-busy-[0-9a-f]{8}$/);
    vault.conflictsAfterRecover = 0;
    expect(await store().getSecret(stored.name)).toBe('current');
  });

  it('rejects names Key Vault would refuse before any request', async () => {
    const secrets = store();
    for (const name of ['', '1starts-with-digit', 'has_underscore', 'has.dot', `a${'b'.repeat(127)}`]) {
      await expect(secrets.setSecret(name, 'value')).rejects.toBeInstanceOf(InvalidSecretNameError);
    }
    expect(vault.requests).toHaveLength(0);
  });

  it('checks health by listing, and fails with a credential the vault does not accept', async () => {
    await store().setSecret('connection-h', 'value-h');
    await expect(store().checkHealth()).resolves.toBeUndefined();
    const wrong = new KeyVaultSecretStore(vault.url, { getToken: async () => ({ token: 'wrong', expiresOnTimestamp: Date.now() + 60_000 }) }, {
      clientOptions: fakeVaultClientOptions,
    });
    await expect(wrong.checkHealth()).rejects.toMatchObject({ name: 'SecretStoreError', statusCode: 401 });
  });

  it('never shows a value: not when printed, not in the error of a failed set', async () => {
    const secrets = store();
    const { version } = await secrets.setSecret('connection-p', 'printed-never-123');
    await secrets.getSecret('connection-p', { version });
    expect(inspect(secrets, { depth: 10, showHidden: true })).not.toContain('printed-never-123');
    expect(JSON.stringify(secrets)).not.toContain('printed-never-123');
    await vault.close();
    const error: unknown = await secrets.setSecret('connection-p', 'unsent-value-456').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'SecretStoreError', message: expect.stringMatching(/^Key Vault set failed/) as string });
    expect(inspect(error, { depth: 10, showHidden: true })).not.toContain('unsent-value-456');
    vault = await startFakeKeyVault();
  });
});
