// The secret store the app uses: Key Vault through the managed identity when `KEY_VAULT_URL` is
// set, the local development store otherwise.
import { DefaultAzureCredential } from '@azure/identity';
import { resolve } from 'node:path';
import type { Config } from '../config';
import { KeyVaultSecretStore } from './key-vault';
import { LocalSecretStore } from './local-store';
import type { SecretStore } from './secret-store';

export type { GetSecretOptions, SecretStore, StoredSecret } from './secret-store';
export { freshSecretName, isValidSecretName, toSecretName } from './secret-store';
export { KeyVaultSecretStore, SecretStoreError, type KeyVaultSecretStoreOptions } from './key-vault';
export { LocalSecretStore } from './local-store';

export function createSecretStore(config: Config): SecretStore {
  if (config.keyVaultUrl !== undefined) {
    return new KeyVaultSecretStore(config.keyVaultUrl, new DefaultAzureCredential(managedIdentityOptions()));
  }
  return new LocalSecretStore(resolve(config.localSecretsFile));
}

function managedIdentityOptions(): { managedIdentityClientId?: string } {
  const clientId = process.env.AZURE_CLIENT_ID ?? process.env.AzureWebJobsStorage__clientId;
  return clientId ? { managedIdentityClientId: clientId } : {};
}
