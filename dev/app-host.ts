// The app itself on this machine: an app context on a given storage account (and namespace), and
// the local host running the function definitions against it, as `npm start` would. The sandbox
// builds one next to its own Azurite and emulators; the benchmark starts one per app instance, each
// in a process of its own.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createAppContext, setAppContext, type AppContext, type Tuning } from '../src/app/context';
import type { FunctionDefinition } from '../src/app/definitions';
import { loadConfig } from '../src/config';
import { createLogger, type LogSink } from '../src/log';
import { LocalSecretStore } from '../src/secrets/local-store';
import { ensureStorage } from '../src/storage/clients';
import { parseHostJson, readHostJson } from './local/host-json';
import { startLocalHost, type RunningHost } from './local/host';
import { loadDefinitions } from './local/load-definitions';

export interface QueueSettings {
  batchSize?: number;
  newBatchThreshold?: number;
  maxDequeueCount?: number;
  visibilityTimeout?: string;
  maxPollingInterval?: string;
}

export interface AppHostOptions {
  connectionString: string;
  namespace: string;
  /** The local secret store's file: instances that share it share the connections' keys. */
  secretsFile: string;
  /** App settings on top of the storage and secrets ones (emulator base URLs, limits). */
  env?: Record<string, string>;
  tuning?: Tuning;
  /** Sets PUBLIC_BASE_URL to this host, so Brevo imports call the webhook. */
  webhooks?: boolean;
  /** host.json queue settings (the Functions host's defaults for anything left out). */
  queues?: QueueSettings;
  /** Chooses and wraps the definitions the host runs (all of them, timers included, by default). */
  definitions?: (definitions: FunctionDefinition[]) => FunctionDefinition[];
  logSink?: LogSink;
  functionsDirectory?: string;
  roleSwitch?: boolean;
  /** 0 or absent: a free port. */
  port?: number;
}

export interface AppHost {
  context: AppContext;
  host: RunningHost;
  url: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startAppHost(options: AppHostOptions): Promise<AppHost> {
  const port = options.port || (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    AzureWebJobsStorage: options.connectionString,
    LOCAL_SECRETS_FILE: options.secretsFile,
    REFRESH_SCHEDULE: '0 0 2 * * *',
    SOURCE_SCAN_SCHEDULE: '0 */15 * * * *',
    ...(options.webhooks ? { PUBLIC_BASE_URL: url } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const context = createAppContext({
    config,
    namespace: options.namespace,
    secrets: new LocalSecretStore(config.localSecretsFile),
    log: createLogger(options.logSink ?? (() => undefined), {}, 'debug'),
    tuning: options.tuning,
  });
  setAppContext(context);
  await ensureStorage(context.storage);
  const loaded = await loadDefinitions(options.functionsDirectory ?? join(__dirname, '..', 'functions'));
  const host = await startLocalHost({
    definitions: options.definitions ? options.definitions(loaded) : loaded,
    hostSettings: parseHostJson({
      version: '2.0',
      extensions: {
        http: { routePrefix: readHostJson(projectHostJson()).routePrefix },
        queues: {
          batchSize: 8,
          newBatchThreshold: 4,
          maxDequeueCount: 5,
          visibilityTimeout: '00:00:00.2',
          maxPollingInterval: '00:00:00.1',
          ...options.queues,
        },
      },
    }),
    env,
    storage: context.storage,
    log: context.log,
    port,
    hostname: '127.0.0.1',
    roleSwitch: options.roleSwitch ?? true,
  });
  return {
    context,
    host,
    url,
    env,
    async stop() {
      await host.stop();
      setAppContext(undefined);
    },
  };
}

/** The project's host.json, above this file whether it runs from source or from dist/. */
function projectHostJson(): string {
  for (let directory = __dirname; dirname(directory) !== directory; directory = dirname(directory)) {
    if (existsSync(join(directory, 'host.json'))) return join(directory, 'host.json');
  }
  throw new Error(`No host.json above ${__dirname}`);
}

/** A port nothing listens on right now, on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
