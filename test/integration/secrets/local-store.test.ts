import { mkdtempSync, rmSync } from 'node:fs';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalSecretStore } from '../../../src/secrets/local-store';
import { InvalidSecretNameError } from '../../../src/secrets/secret-store';

let directory: string;
let path: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'segment-export-local-store-'));
  path = join(directory, 'nested', 'secrets.json');
});
afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

const posix = process.platform !== 'win32';

describe('LocalSecretStore', () => {
  it('stores versions like Key Vault: latest by default, older ones by version', async () => {
    const store = new LocalSecretStore(path);
    const first = await store.setSecret('connection-a', 'first-value');
    const second = await store.setSecret('connection-a', 'second-value');
    expect(second.name).toBe('connection-a');
    expect(second.version).not.toBe(first.version);
    const reopened = new LocalSecretStore(path);
    expect(await reopened.getSecret('connection-a')).toBe('second-value');
    expect(await reopened.getSecret('connection-a', { version: first.version })).toBe('first-value');
    expect(await reopened.getSecret('connection-a', { version: 'unknown' })).toBeUndefined();
    expect(await reopened.getSecret('connection-b')).toBeUndefined();
  });

  it('deletes every version, and deleting again succeeds', async () => {
    const store = new LocalSecretStore(path);
    await store.setSecret('connection-a', 'value');
    await store.deleteSecret('connection-a');
    expect(await store.getSecret('connection-a')).toBeUndefined();
    await expect(store.deleteSecret('connection-a')).resolves.toBeUndefined();
    expect(await readFile(path, 'utf8')).not.toContain('value');
  });

  it.skipIf(!posix)('keeps the file and its directory readable by the owner only', async () => {
    const store = new LocalSecretStore(path);
    await store.setSecret('connection-a', 'value');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(directory, 'nested'))).mode & 0o777).toBe(0o700);
  });

  it.skipIf(!posix)('tightens a file that others could read', async () => {
    const store = new LocalSecretStore(path);
    await store.setSecret('connection-a', 'value');
    await chmod(path, 0o644);
    await store.getSecret('connection-a');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('keeps every write when writes overlap', async () => {
    const store = new LocalSecretStore(path);
    await Promise.all(Array.from({ length: 10 }, (_, index) => store.setSecret(`connection-${index}`, `value-${index}`)));
    for (let index = 0; index < 10; index += 1) expect(await store.getSecret(`connection-${index}`)).toBe(`value-${index}`);
  });

  it('refuses names Key Vault would refuse', async () => {
    const store = new LocalSecretStore(path);
    await expect(store.setSecret('bad_name', 'value')).rejects.toBeInstanceOf(InvalidSecretNameError);
    await expect(store.getSecret('9lives')).rejects.toBeInstanceOf(InvalidSecretNameError);
  });

  it('reports a damaged file without quoting its content', async () => {
    const store = new LocalSecretStore(path);
    await store.setSecret('connection-a', 'placeholder');
    await writeFile(path, '{"format":1,"secrets":{"connection-a":{"latest":"v","versions":{"v":"leaky-key-123"}}', { mode: 0o600 });
    const error: unknown = await store.getSecret('connection-a').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('The local secret store is not valid JSON');
    expect(inspect(error, { depth: 10 })).not.toContain('leaky-key-123');
  });

  it('never shows a value or its file when printed', async () => {
    const store = new LocalSecretStore(path);
    await store.setSecret('connection-a', 'printed-never');
    expect(inspect(store, { depth: 10, showHidden: true })).not.toMatch(/printed-never|secrets\.json/);
    expect(JSON.stringify(store)).toBe('{"kind":"local"}');
  });
});
