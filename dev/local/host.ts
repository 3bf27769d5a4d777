import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FunctionDefinition } from '../../src/app/definitions';
import type { Logger } from '../../src/log';
import type { StorageClients } from '../../src/storage/clients';
import type { HostSettings } from './host-json';
import { createHttpServer } from './http-server';
import { startQueuePollers } from './queues';
import { startTimers, type Runner } from './timers';

const LOOPBACK = '127.0.0.1';

export interface LocalHostOptions {
  definitions: readonly FunctionDefinition[];
  hostSettings: HostSettings;
  /** App settings, for `%SETTING%` expressions. */
  env: Record<string, string | undefined>;
  storage: StorageClients;
  log: Logger;
  /** 7071 like `func start`; 0 picks a free port. */
  port?: number;
  /**
   * The interface to listen on: loopback unless told otherwise, since this host trusts the
   * caller's principal header (and `roleSwitch` grants roles) where Azure would authenticate.
   */
  hostname?: string;
  /** Offer the web app's role switch (Admin / Contributor); see `./role-switch`. */
  roleSwitch?: boolean;
  /** Which kinds to run (tests may want only some). */
  enable?: { http?: boolean; timers?: boolean; queues?: boolean };
}

export interface RunningHost {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * The app's functions outside Azure Functions Core Tools: HTTP on the host's routes, timers on
 * their schedules, queue triggers against the real queues. It runs the very definitions the real
 * host registers.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<RunningHost> {
  const enable = { http: true, timers: true, queues: true, ...options.enable };
  const of = <K extends FunctionDefinition['kind']>(kind: K) =>
    options.definitions.filter((definition): definition is Extract<FunctionDefinition, { kind: K }> => definition.kind === kind);

  const runners: Runner[] = [];
  let server: Server | undefined;
  let port = 0;
  try {
    if (enable.queues) {
      runners.push(
        startQueuePollers({
          definitions: of('queue'),
          queueClient: (name) => options.storage.queue(name),
          resolveQueueName: (name) => options.storage.names.resolveQueue(name),
          settings: options.hostSettings.queues,
          functionTimeoutInMs: options.hostSettings.functionTimeoutInMs,
          log: options.log,
        }),
      );
    }
    if (enable.timers) {
      runners.push(startTimers({ definitions: of('timer'), env: options.env, log: options.log }));
    }
    if (enable.http) {
      server = createHttpServer({
        definitions: of('http'),
        routePrefix: options.hostSettings.routePrefix,
        log: options.log,
        roleSwitch: options.roleSwitch,
      });
      port = await listen(server, options.port ?? 7071, options.hostname ?? LOOPBACK);
    }
  } catch (error) {
    await Promise.allSettled(runners.map((runner) => runner.stop()));
    throw error;
  }

  const hostname = options.hostname ?? LOOPBACK;
  return {
    url: `http://${hostname === '0.0.0.0' ? 'localhost' : hostname}:${port}`,
    port,
    async stop() {
      const closing = server ? closeServer(server) : Promise.resolve();
      await Promise.allSettled(runners.map((runner) => runner.stop()));
      await closing;
    },
  };
}

function listen(server: Server, port: number, hostname: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
