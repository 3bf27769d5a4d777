import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createAppContext, setAppContext, type AppContext, type Tuning } from '../../src/app/context';
import { loadConfig, type Config } from '../../src/config';
import { createLogger, type LogRecord } from '../../src/log';
import { LocalSecretStore } from '../../src/secrets/local-store';
import type { SecretStore } from '../../src/secrets';
import { ensureStorage } from '../../src/storage/clients';

export interface TestContext extends AppContext {
  /** Every log record written through `log`, for assertions. */
  readonly logs: LogRecord[];
  readonly env: Record<string, string>;
  /** The storage namespace: another context given it is a second app instance on the same storage. */
  readonly namespace: string;
}

export interface TestContextOptions {
  env?: Record<string, string>;
  secrets?: SecretStore;
  tuning?: Tuning;
  now?: () => Date;
  /** Share another context's namespace (a second app instance) instead of a fresh one. */
  namespace?: string;
}

/** A fresh namespace (tables, queues, containers) in the shared Azurite, installed as the app context. */
export async function createTestContext(options: TestContextOptions = {}): Promise<TestContext> {
  const namespace = options.namespace ?? `t${randomBytes(5).toString('hex')}`;
  const secretsDir = mkdtempSync(join(tmpdir(), 'segment-export-secrets-'));
  const env: Record<string, string> = {
    AzureWebJobsStorage: inject('storageConnectionString'),
    LOCAL_SECRETS_FILE: join(secretsDir, 'secrets.json'),
    ...options.env,
  };
  const config: Config = loadConfig(env);
  const logs: LogRecord[] = [];
  const context = createAppContext({
    config,
    namespace,
    secrets: options.secrets ?? new LocalSecretStore(config.localSecretsFile),
    log: createLogger((record) => {
      logs.push(record);
      if (process.env.TEST_LOG) console.log(JSON.stringify(record));
    }, {}, 'debug'),
    tuning: options.tuning,
    now: options.now,
  });
  await ensureStorage(context.storage);
  setAppContext(context);
  return Object.assign(context, { logs, env, namespace });
}
