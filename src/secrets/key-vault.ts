// Provider keys in Azure Key Vault (`KeyVaultSecretStore`), and `SecretStoreError`, the one
// error the connection service turns into a 503: a vault failure without the SDK's request,
// whose body would carry the secret's value.
import type { TokenCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import type { OperationOptions } from '../app/operation';
import {
  assertValidSecretName,
  freshSecretName,
  type GetSecretOptions,
  type SecretStore,
  type StoredSecret,
} from './secret-store';

export interface KeyVaultSecretStoreOptions {
  /** Passed to `SecretClient` (tests: `allowInsecureConnection`, `disableChallengeResourceVerification`). */
  clientOptions?: SecretClientOptions;
  /** How long a value read from the vault may be served from memory. */
  cacheTtlInMs?: number;
  /** At most this many values are held in memory; the oldest go first. */
  maxCachedSecrets?: number;
  /** How long a recovery of a soft-deleted name may take before a fresh name is used instead. */
  recoveryTimeoutInMs?: number;
  /** Interval of the recovery poller and of the retries while a recovery settles. */
  pollIntervalInMs?: number;
  now?: () => number;
}

export const DEFAULT_CACHE_TTL_IN_MS = 5 * 60_000;
const DEFAULT_MAX_CACHED_SECRETS = 1_000;
const DEFAULT_RECOVERY_TIMEOUT_IN_MS = 30_000;
const DEFAULT_POLL_INTERVAL_IN_MS = 1_000;
/** Read by the health check and expected to be absent (a value stored under it changes nothing). */
const HEALTH_PROBE_SECRET = 'health-probe-never-set';

/** A Key Vault failure without the SDK's request attached (the request of a set carries the value). */
export class SecretStoreError extends Error {
  readonly statusCode: number | undefined;
  readonly code: string | undefined;

  constructor(operation: string, error: unknown) {
    const { statusCode, code, message } = describeVaultError(error);
    super(`Key Vault ${operation} failed${statusCode ? ` (${statusCode}${code ? ` ${code}` : ''})` : ''}: ${message}`);
    this.name = 'SecretStoreError';
    this.statusCode = statusCode;
    this.code = code;
  }
}

interface CacheEntry {
  value: string;
  expiresAtMs: number;
}

/**
 * Provider keys in Azure Key Vault, through the app's managed identity. Versions are immutable, so
 * a value read by name and version may be cached; the cache still forgets values after
 * `cacheTtlInMs` so that a key does not sit in memory for the life of the process.
 */
export class KeyVaultSecretStore implements SecretStore {
  readonly kind = 'key-vault' as const;
  private readonly client: SecretClient;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheTtlInMs: number;
  private readonly maxCachedSecrets: number;
  private readonly recoveryTimeoutInMs: number;
  private readonly pollIntervalInMs: number;
  private readonly now: () => number;

  constructor(vaultUrl: string, credential: TokenCredential, options: KeyVaultSecretStoreOptions = {}) {
    this.client = new SecretClient(vaultUrl, credential, options.clientOptions ?? {});
    this.cacheTtlInMs = options.cacheTtlInMs ?? DEFAULT_CACHE_TTL_IN_MS;
    this.maxCachedSecrets = options.maxCachedSecrets ?? DEFAULT_MAX_CACHED_SECRETS;
    this.recoveryTimeoutInMs = options.recoveryTimeoutInMs ?? DEFAULT_RECOVERY_TIMEOUT_IN_MS;
    this.pollIntervalInMs = options.pollIntervalInMs ?? DEFAULT_POLL_INTERVAL_IN_MS;
    this.now = options.now ?? Date.now;
  }

  async setSecret(name: string, value: string, options: OperationOptions = {}): Promise<StoredSecret> {
    assertValidSecretName(name);
    this.forget(name);
    try {
      return await this.set(name, value, options);
    } catch (error) {
      if (innerCode(error) !== 'ObjectIsDeletedButRecoverable') throw wrap('set', error);
    }
    // The name belongs to a soft-deleted secret: take it back, or leave it and use another name.
    if (await this.tryRecover(name, options)) {
      const stored = await this.setAfterRecovery(name, value, options);
      if (stored) return stored;
    }
    try {
      return await this.set(freshSecretName(name), value, options);
    } catch (error) {
      throw wrap('set', error);
    }
  }

  async getSecret(name: string, options: GetSecretOptions = {}): Promise<string | undefined> {
    assertValidSecretName(name);
    const key = cacheKey(name, options.version);
    const cached = this.cache.get(key);
    if (cached && cached.expiresAtMs > this.now()) return cached.value;
    this.cache.delete(key);
    let value: string | undefined;
    try {
      value = (await this.client.getSecret(name, { version: options.version, abortSignal: options.abortSignal })).value;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw wrap('get', error);
    }
    if (value !== undefined && options.version !== undefined) this.remember(key, value);
    return value;
  }

  async deleteSecret(name: string, options: OperationOptions = {}): Promise<void> {
    assertValidSecretName(name);
    this.forget(name);
    try {
      // Starting the deletion makes the secret unreadable at once; waiting for the vault to finish
      // moving it to the deleted secrets would only delay the caller.
      await this.client.beginDeleteSecret(name, { abortSignal: options.abortSignal });
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw wrap('delete', error);
    }
  }

  /**
   * One read of a secret that never exists: a 404 proves the vault answers and the identity may read
   * secrets, costs one transaction, needs no `list` permission and names no secret.
   */
  async checkHealth(options: OperationOptions = {}): Promise<void> {
    try {
      await this.client.getSecret(HEALTH_PROBE_SECRET, { abortSignal: options.abortSignal });
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw wrap('get', error);
    }
  }

  /** Never show cached values when someone prints the store. */
  [inspect.custom](): string {
    return `KeyVaultSecretStore { cached: ${this.cache.size} }`;
  }

  toJSON(): { kind: 'key-vault' } {
    return { kind: this.kind };
  }

  private async set(name: string, value: string, options: OperationOptions): Promise<StoredSecret> {
    const secret = await this.client.setSecret(name, value, { abortSignal: options.abortSignal, contentType: 'text/plain' });
    const version = secret.properties.version;
    if (!version) throw new SecretStoreError('set', new Error('the vault answered without a secret version'));
    this.remember(cacheKey(name, version), value);
    return { name, version };
  }

  /** Recovers a soft-deleted secret; false when the vault refuses or it takes too long. */
  private async tryRecover(name: string, options: OperationOptions): Promise<boolean> {
    const abortSignal = combine(options.abortSignal, AbortSignal.timeout(this.recoveryTimeoutInMs));
    try {
      const poller = await this.client.beginRecoverDeletedSecret(name, { abortSignal, intervalInMs: this.pollIntervalInMs });
      await poller.pollUntilDone({ abortSignal });
      return true;
    } catch (error) {
      if (options.abortSignal?.aborted) throw wrap('recover', error);
      return false;
    }
  }

  /** The vault may still answer `ObjectIsBeingRecovered` right after a recovery completed. */
  private async setAfterRecovery(name: string, value: string, options: OperationOptions): Promise<StoredSecret | undefined> {
    const deadline = performance.now() + this.recoveryTimeoutInMs;
    for (;;) {
      try {
        return await this.set(name, value, options);
      } catch (error) {
        if (innerCode(error) !== 'ObjectIsBeingRecovered' || performance.now() >= deadline) return undefined;
      }
      await sleep(this.pollIntervalInMs, undefined, { signal: options.abortSignal });
    }
  }

  private remember(key: string, value: string): void {
    this.cache.delete(key);
    this.cache.set(key, { value, expiresAtMs: this.now() + this.cacheTtlInMs });
    while (this.cache.size > this.maxCachedSecrets) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
  }

  private forget(name: string): void {
    for (const key of this.cache.keys()) if (key.startsWith(`${name}/`)) this.cache.delete(key);
  }
}

function cacheKey(name: string, version: string | undefined): string {
  return `${name}/${version ?? ''}`;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Key Vault's specific reason, e.g. `ObjectIsDeletedButRecoverable`, from the error body. */
function innerCode(error: unknown): string | undefined {
  if (statusOf(error) !== 409) return undefined;
  const details = (error as { details?: { error?: { innerError?: { code?: unknown } } } }).details;
  const code = details?.error?.innerError?.code;
  return typeof code === 'string' ? code : undefined;
}

function describeVaultError(error: unknown): { statusCode: number | undefined; code: string | undefined; message: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return {
    statusCode: statusOf(error),
    code: typeof code === 'string' ? code : undefined,
    message: error instanceof Error ? error.message : String(error),
  };
}

function wrap(operation: string, error: unknown): SecretStoreError {
  return error instanceof SecretStoreError ? error : new SecretStoreError(operation, error);
}

function combine(first: AbortSignal | undefined, second: AbortSignal): AbortSignal {
  return first ? AbortSignal.any([first, second]) : second;
}
