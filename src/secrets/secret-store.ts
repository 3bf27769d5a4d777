// Where provider API keys live: Key Vault in Azure, a local file during development. Both stores
// keep Key Vault's naming rule and its versions, so that code paths are the same.
import { randomBytes } from 'node:crypto';
import type { OperationOptions } from '../app/operation';

export interface GetSecretOptions extends OperationOptions {
  /** A version that `setSecret` returned; the latest value when omitted. */
  version?: string;
}

/** Where a value was stored: `name` may differ from the requested one (see `setSecret`). */
export interface StoredSecret {
  name: string;
  version: string;
}

export interface SecretStore {
  readonly kind: 'key-vault' | 'local';
  /**
   * Stores a value under `name` as a new version. When the name cannot be used (Key Vault keeps a
   * soft-deleted secret under it that cannot be recovered) the value goes under a fresh name
   * derived from it: callers keep the returned name and version.
   */
  setSecret(name: string, value: string, options?: OperationOptions): Promise<StoredSecret>;
  /** The value of that version (or the latest), or undefined when there is none. */
  getSecret(name: string, options?: GetSecretOptions): Promise<string | undefined>;
  /** Deletes the secret and all its versions; succeeds when it is already gone. */
  deleteSecret(name: string, options?: OperationOptions): Promise<void>;
  /** Throws when the store cannot be reached or read. */
  checkHealth(options?: OperationOptions): Promise<void>;
}

/** Key Vault's rule, kept by every store so that a name that works locally works in Azure. */
export const MAX_SECRET_NAME_LENGTH = 127;
const SECRET_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

export class InvalidSecretNameError extends Error {
  readonly code = 'invalid_secret_name';
  constructor(name: string) {
    super(
      `'${name.slice(0, 40)}' is not a valid secret name: 1-${MAX_SECRET_NAME_LENGTH} letters, digits and dashes, starting with a letter`,
    );
    this.name = 'InvalidSecretNameError';
  }
}

export function isValidSecretName(name: string): boolean {
  return name.length <= MAX_SECRET_NAME_LENGTH && SECRET_NAME.test(name);
}

export function assertValidSecretName(name: string): void {
  if (!isValidSecretName(name)) throw new InvalidSecretNameError(name);
}

/**
 * A valid secret name built from free-form parts: other characters become dashes, the name starts
 * with a letter and is cut to the limit.
 */
export function toSecretName(...parts: string[]): string {
  const joined = parts
    .join('-')
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  const name = /^[A-Za-z]/.test(joined) ? joined : `s-${joined}`;
  return name.slice(0, MAX_SECRET_NAME_LENGTH).replace(/-+$/, '');
}

/** `name` with a random suffix, still within the limit: used when `name` itself is taken. */
export function freshSecretName(name: string): string {
  const suffix = randomBytes(4).toString('hex');
  return `${name.slice(0, MAX_SECRET_NAME_LENGTH - suffix.length - 1).replace(/-+$/, '')}-${suffix}`;
}
