// The development secret store (no `KEY_VAULT_URL`): one JSON file outside git, owner-only.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { z } from 'zod';
import type { OperationOptions } from '../app/operation';
import {
  assertValidSecretName,
  type GetSecretOptions,
  type SecretStore,
  type StoredSecret,
} from './secret-store';

const fileSchema = z.object({
  format: z.literal(1),
  secrets: z.record(z.string(), z.object({ latest: z.string(), versions: z.record(z.string(), z.string()) })),
});
type SecretsFile = z.infer<typeof fileSchema>;

const OWNER_ONLY_FILE = 0o600;
const OWNER_ONLY_DIRECTORY = 0o700;

/**
 * Development store (no `KEY_VAULT_URL`): one JSON file outside git, readable by its owner only,
 * with versions like Key Vault so that code paths are the same. Writes go through a temporary
 * file and a rename so that a crash never leaves half a file. Error messages never quote the file.
 */
export class LocalSecretStore implements SecretStore {
  readonly kind = 'local' as const;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  async setSecret(name: string, value: string, _options?: OperationOptions): Promise<StoredSecret> {
    assertValidSecretName(name);
    const version = randomBytes(16).toString('hex');
    await this.update((file) => {
      const existing = file.secrets[name];
      file.secrets[name] = { latest: version, versions: { ...existing?.versions, [version]: value } };
    });
    return { name, version };
  }

  async getSecret(name: string, options: GetSecretOptions = {}): Promise<string | undefined> {
    assertValidSecretName(name);
    const secret = (await this.read()).secrets[name];
    if (!secret) return undefined;
    return secret.versions[options.version ?? secret.latest];
  }

  async deleteSecret(name: string, _options?: OperationOptions): Promise<void> {
    assertValidSecretName(name);
    await this.update((file) => {
      delete file.secrets[name];
    });
  }

  async checkHealth(_options?: OperationOptions): Promise<void> {
    await this.read();
  }

  [inspect.custom](): string {
    return 'LocalSecretStore {}';
  }

  toJSON(): { kind: 'local' } {
    return { kind: this.kind };
  }

  private async read(): Promise<SecretsFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { format: 1, secrets: {} };
      throw new Error('The local secret store is not readable', { cause: describeFsError(error) });
    }
    await this.restrictPermissions();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // The parser's message quotes the text around the error, which may be a key.
      throw new Error('The local secret store is not valid JSON');
    }
    const file = fileSchema.safeParse(parsed);
    if (!file.success) throw new Error('The local secret store does not have the expected shape');
    return file.data;
  }

  /** A file someone created or copied with looser permissions is tightened on first read. */
  private async restrictPermissions(): Promise<void> {
    if (process.platform === 'win32') return;
    const { mode } = await stat(this.path);
    if ((mode & 0o077) !== 0) await chmod(this.path, OWNER_ONLY_FILE);
  }

  /** Serialises read-modify-write cycles within this process. */
  private update(change: (file: SecretsFile) => void): Promise<void> {
    const next = this.queue.then(async () => {
      const file = await this.read();
      change(file);
      await mkdir(dirname(this.path), { recursive: true, mode: OWNER_ONLY_DIRECTORY });
      const temporary = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(temporary, JSON.stringify(file), { mode: OWNER_ONLY_FILE });
      await chmod(temporary, OWNER_ONLY_FILE);
      await rename(temporary, this.path);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** An fs error without its path. */
function describeFsError(error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  return Object.assign(new Error(`file system error ${code}`), { code });
}
