import type { TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import type { SecretStore, SecretStoreOptions } from './secret-store';

/** Provider keys in Azure Key Vault, through the app's managed identity. */
export class KeyVaultSecretStore implements SecretStore {
  readonly kind = 'key-vault' as const;
  private readonly client: SecretClient;

  constructor(vaultUrl: string, credential: TokenCredential, clientOptions: SecretClientOptions = {}) {
    this.client = new SecretClient(vaultUrl, credential, clientOptions);
  }

  async setSecret(name: string, value: string, options: SecretStoreOptions = {}): Promise<void> {
    await this.client.setSecret(name, value, { abortSignal: options.abortSignal, contentType: 'text/plain' });
  }

  async getSecret(name: string, options: SecretStoreOptions = {}): Promise<string | undefined> {
    try {
      return (await this.client.getSecret(name, { abortSignal: options.abortSignal })).value;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async deleteSecret(name: string, options: SecretStoreOptions = {}): Promise<void> {
    try {
      const poller = await this.client.beginDeleteSecret(name, { abortSignal: options.abortSignal });
      await poller.pollUntilDone();
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
  }

  async checkHealth(options: SecretStoreOptions = {}): Promise<void> {
    const pages = this.client.listPropertiesOfSecrets({ abortSignal: options.abortSignal }).byPage({ maxPageSize: 1 });
    await pages.next();
  }
}

function isNotFound(error: unknown): boolean {
  return (error as { statusCode?: unknown }).statusCode === 404;
}
