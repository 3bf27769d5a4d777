import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { SecretStore, SecretStoreOptions } from './secret-store';

const fileSchema = z.record(z.string(), z.string());

/**
 * Development store: one JSON file outside git, readable by its owner only. Writes go through a
 * temporary file and a rename so that a crash never leaves half a file.
 */
export class LocalSecretStore implements SecretStore {
  readonly kind = 'local' as const;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  async setSecret(name: string, value: string, _options?: SecretStoreOptions): Promise<void> {
    await this.update((secrets) => {
      secrets[name] = value;
    });
  }

  async getSecret(name: string, _options?: SecretStoreOptions): Promise<string | undefined> {
    return (await this.read())[name];
  }

  async deleteSecret(name: string, _options?: SecretStoreOptions): Promise<void> {
    await this.update((secrets) => {
      delete secrets[name];
    });
  }

  async checkHealth(_options?: SecretStoreOptions): Promise<void> {
    await this.read();
  }

  private async read(): Promise<Record<string, string>> {
    try {
      return fileSchema.parse(JSON.parse(await readFile(this.path, 'utf8')));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error('The local secret store is not readable', { cause: error });
    }
  }

  /** Serialises read-modify-write cycles within this process. */
  private update(change: (secrets: Record<string, string>) => void): Promise<void> {
    const next = this.queue.then(async () => {
      const secrets = await this.read();
      change(secrets);
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const temporary = `${this.path}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(secrets), { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, this.path);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
