import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { developmentConnectionString, type AzuritePorts } from '../../src/storage/development';

export type { AzuritePorts };

export interface StartAzuriteOptions {
  /** Ports to listen on; 0 (the default) picks free ports. */
  ports?: Partial<AzuritePorts>;
  host?: string;
  startTimeoutInMs?: number;
  /** Node options of the Azurite process (the benchmark's `--cpu-prof` profiles it too). */
  execArgv?: readonly string[];
}

export interface RunningAzurite {
  ports: AzuritePorts;
  connectionString: string;
  /** The Azurite process (the benchmark reads its CPU time). */
  pid: number | undefined;
  stop(): Promise<void>;
}

const listening = /Azurite (Blob|Queue|Table) service is successfully listening at https?:\/\/[^:]+:(\d+)/;

/** Starts Azurite in memory as a child process and resolves once all three services listen. */
export async function startAzurite(options: StartAzuriteOptions = {}): Promise<RunningAzurite> {
  const host = options.host ?? '127.0.0.1';
  const bin = require.resolve('azurite/dist/src/azurite.js');
  const args = [
    ...(options.execArgv ?? []),
    bin,
    '--inMemoryPersistence',
    '--skipApiVersionCheck',
    '--loose',
    '--disableProductStyleUrl',
    ...['blob', 'queue', 'table'].flatMap((service) => [
      `--${service}Host`,
      host,
      `--${service}Port`,
      String(options.ports?.[service as keyof AzuritePorts] ?? 0),
    ]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ports = await waitForPorts(child, options.startTimeoutInMs ?? 30_000);
  return {
    ports,
    connectionString: developmentConnectionString(ports, host),
    pid: child.pid,
    stop: () => stopChild(child),
  };
}

function waitForPorts(child: ChildProcess, timeoutInMs: number): Promise<AzuritePorts> {
  return new Promise((resolve, reject) => {
    const found: Partial<AzuritePorts> = {};
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`Azurite did not start within ${timeoutInMs} ms: ${stderr}`));
    }, timeoutInMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${String(code)} before it listened: ${stderr}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = listening.exec(line);
      if (!match) return;
      const service = match[1]!.toLowerCase() as keyof AzuritePorts;
      found[service] = Number(match[2]);
      if (found.blob && found.queue && found.table) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(found as AzuritePorts);
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
