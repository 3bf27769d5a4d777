// The benchmark's app instances: one process each (`instance.ts`), all on the same storage account
// and provider emulators, so that they share the rate governor through Table storage as Flex
// Consumption instances do. Each is asked for its meters between runs.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { instanceMessageSchema, type InstanceConfig, type InstanceMessage, type InstanceStats } from './protocol';

export interface AppInstancesOptions {
  /** Node options of each instance (the heap limit, a CPU profile). */
  execArgv: string[];
}

export interface AppInstances {
  urls: string[];
  pids: number[];
  /** Each instance's meters since the last reset. */
  stats(): Promise<InstanceStats[]>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

class Instance {
  private nextId = 1;
  private readonly waiting = new Map<number, (message: InstanceMessage) => void>();
  readonly ready: Promise<string>;

  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`An app instance exited with code ${String(code)} before it was ready`)));
      child.on('message', (raw) => {
        const message = instanceMessageSchema.parse(raw);
        if (message.type === 'ready') resolve(message.url);
        else this.waiting.get(message.id)?.(message);
      });
    });
  }

  ask(type: 'stats' | 'reset' | 'stop'): Promise<InstanceMessage> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, (message) => {
        this.waiting.delete(id);
        resolve(message);
      });
      this.child.send({ type, id });
    });
  }
}

export async function startAppInstances(count: number, config: InstanceConfig, options: AppInstancesOptions): Promise<AppInstances> {
  const entry = join(__dirname, 'instance.js');
  const instances = Array.from({ length: count }, () => new Instance(fork(entry, [JSON.stringify(config)], { execArgv: options.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })));
  let urls: string[];
  try {
    urls = await Promise.all(instances.map((instance) => instance.ready));
  } catch (error) {
    for (const instance of instances) instance.child.kill();
    throw error;
  }
  return {
    urls,
    pids: instances.map((instance) => instance.child.pid ?? 0),
    async stats() {
      const answers = await Promise.all(instances.map((instance) => instance.ask('stats')));
      return answers.map((answer) => {
        if (answer.type !== 'stats') throw new Error(`An app instance answered ${answer.type} to stats`);
        return answer.stats;
      });
    },
    async reset() {
      await Promise.all(instances.map((instance) => instance.ask('reset')));
    },
    async stop() {
      await Promise.all(
        instances.map(
          (instance) =>
            new Promise<void>((resolve) => {
              if (instance.child.exitCode !== null) return resolve();
              instance.child.once('exit', () => resolve());
              void instance.ask('stop');
            }),
        ),
      );
    },
  };
}
