/** Where provider API keys live: Key Vault in Azure, a local file during development. */
export interface SecretStoreOptions {
  abortSignal?: AbortSignal;
}

export interface SecretStore {
  readonly kind: 'key-vault' | 'local';
  /** Stores a value under `name`, replacing any previous value. */
  setSecret(name: string, value: string, options?: SecretStoreOptions): Promise<void>;
  /** The current value, or undefined when there is none. */
  getSecret(name: string, options?: SecretStoreOptions): Promise<string | undefined>;
  /** Deletes the secret; succeeds when it is already gone. */
  deleteSecret(name: string, options?: SecretStoreOptions): Promise<void>;
  /** Throws when the store cannot be reached or read. */
  checkHealth(options?: SecretStoreOptions): Promise<void>;
}
