import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { createAppContext, setAppContext } from '../../src/app/context';
import { DEFAULT_REFRESH_SCHEDULE, DEFAULT_SOURCE_SCAN_SCHEDULE, loadConfig } from '../../src/config';
import { AppError } from '../../src/errors';
import { createLogger } from '../../src/log';
import { ensureStorage } from '../../src/storage/clients';
import { DEV_PORTS } from '../../src/storage/development';
import { startAzurite, type RunningAzurite } from './azurite';
import { readHostJson } from './host-json';
import { startLocalHost } from './host';
import { localListenAddress } from './listen-address';
import { loadDefinitions } from './load-definitions';
import { applyLocalSettings, readLocalSettings } from './settings';

/**
 * `npm start`: the app on http://localhost:7071 with the settings of local.settings.json.
 * Uses `func start` when Core Tools are installed, otherwise the built-in local host.
 */
const projectRoot = resolve(__dirname, '..', '..', '..');

async function main(): Promise<void> {
  const settings = readLocalSettings(projectRoot);
  if (settings.created) console.log('Created local.settings.json from local.settings.sample.json.');
  applyLocalSettings(settings.values);

  if (hasCoreTools() && !process.argv.includes('--local-host')) {
    console.log('Azure Functions Core Tools found: running `func start`.');
    const child = spawn('func', ['start'], { cwd: projectRoot, stdio: 'inherit' });
    child.on('exit', (code) => process.exit(code ?? 0));
    return;
  }

  process.env.REFRESH_SCHEDULE ||= DEFAULT_REFRESH_SCHEDULE;
  process.env.SOURCE_SCAN_SCHEDULE ||= DEFAULT_SOURCE_SCAN_SCHEDULE;
  const config = loadConfig(process.env);
  let azurite: RunningAzurite | undefined;
  if (config.storage.kind === 'connectionString' && config.storage.connectionString === 'UseDevelopmentStorage=true') {
    azurite = await ensureAzurite();
  }

  const log = createLogger();
  const context = createAppContext({ config, log });
  setAppContext(context);
  await ensureStorage(context.storage);

  const definitions = await loadDefinitions(join(projectRoot, 'dist', 'functions'));
  const port = Number(process.env.PORT ?? settings.port ?? 7071);
  const address = localListenAddress(process.env);
  if (address.warning) console.warn(address.warning);
  const host = await startLocalHost({
    definitions,
    hostSettings: readHostJson(join(projectRoot, 'host.json')),
    env: process.env,
    storage: context.storage,
    log,
    port,
    roleSwitch: true,
    hostname: address.hostname,
  });
  console.log(`segment-export is running on ${host.url} (local host, loopback only; ${definitions.length} functions)`);
  for (const definition of definitions) console.log(`  ${describe(definition)}`);
  console.log(`The admin web app: http://localhost:${host.port}/ (its role switch picks Admin or Contributor; there is no sign-in here)`);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('Stopping…');
    await host.stop();
    await azurite?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

function describe(definition: Awaited<ReturnType<typeof loadDefinitions>>[number]): string {
  switch (definition.kind) {
    case 'http':
      return `${definition.name}: [${definition.options.methods.join(',')}] /${definition.options.route}`;
    case 'timer':
      return `${definition.name}: timer ${definition.options.schedule}`;
    case 'queue':
      return `${definition.name}: queue ${definition.options.queueName}`;
  }
}

function hasCoreTools(): boolean {
  const probe = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['func'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** Starts Azurite in memory on the development ports unless something already listens there. */
async function ensureAzurite(): Promise<RunningAzurite | undefined> {
  const open = await Promise.all(Object.values(DEV_PORTS).map((port) => isListening(port)));
  if (open.every(Boolean)) {
    console.log('Using the Azurite already listening on 127.0.0.1:10000-10002.');
    return undefined;
  }
  if (open.some(Boolean)) {
    throw new Error('Some of the Azurite ports 10000-10002 are in use by something else; free them or set AzureWebJobsStorage.');
  }
  const azurite = await startAzurite({ ports: DEV_PORTS });
  console.log('Started Azurite in memory on 127.0.0.1:10000-10002 (data is lost when npm start stops).');
  return azurite;
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolvePort(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolvePort(false);
    });
    socket.once('error', () => resolvePort(false));
  });
}

main().catch((error: unknown) => {
  if (error instanceof AppError) console.error(error.message);
  else console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
