import { describe, expect, it } from 'vitest';
import type { TokenCredential } from '@azure/identity';
import { createStorageClients } from '../../../src/storage/clients';
import { developmentConnectionString } from '../../../src/storage/development';
import { storageNames } from '../../../src/storage/names';
import { isAllowedSourceAccount, sourceStorage } from '../../../src/storage/source-storage';

const config = { kind: 'connectionString' as const, connectionString: developmentConnectionString({ blob: 10000, queue: 10001, table: 10002 }) };
const own = createStorageClients(config, storageNames());
const credential: TokenCredential = { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 60_000 }) };

describe('the storage a source reads', () => {
  it("is the app's own clients without an account URL, or with the app's own blob endpoint", () => {
    expect(sourceStorage(own, config, undefined).own).toBe(true);
    expect(sourceStorage(own, config, 'http://127.0.0.1:10000/devstoreaccount1/').own).toBe(true);
    expect(sourceStorage(own, config, undefined).container('ci').url).toBe('http://127.0.0.1:10000/devstoreaccount1/ci');
  });

  it('reads another Azure Storage account with the identity, its dfs endpoint as its blob endpoint', () => {
    const other = sourceStorage(own, config, 'https://CIexports.dfs.core.windows.net', { credential });
    expect(other).toMatchObject({ own: false, accountUrl: 'https://ciexports.blob.core.windows.net' });
    expect(other.container('ci').url).toBe('https://ciexports.blob.core.windows.net/ci');
  });

  it.each(['https://example.com', 'http://ciexports.blob.core.windows.net', 'https://ciexports.blob.core.windows.net.example.com', 'https://ciexports.blob.core.windows.net:8443', 'https://ciexports.blob.core.windows.net/container'])(
    'never sends the identity to %s',
    (url) => {
      expect(isAllowedSourceAccount(own, url)).toBe(false);
      expect(() => sourceStorage(own, config, url, { credential })).toThrow(/not an Azure Storage blob or dfs endpoint/);
    },
  );
});
