// One app instance of the benchmark, in a process of its own (as each Flex Consumption instance is):
// the local host on the shared storage account, with meters of what a run costs. The benchmark
// forks one per `--instances` and talks to it over the IPC channel (see instances.ts).
import { z } from 'zod';
import type { LogRecord, LogSink } from '../../src/log';
import { startAppHost } from '../app-host';
import { InvocationMeter, StorageMeter } from './meters';
import { instanceConfigSchema, parentMessageSchema, type InstanceMessage } from './protocol';

async function main(): Promise<void> {
  const config = instanceConfigSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  const storage = new StorageMeter(config.storagePorts);
  storage.start();
  const invocations = new InvocationMeter();
  const app = await startAppHost({
    connectionString: config.connectionString,
    namespace: config.namespace,
    secretsFile: config.secretsFile,
    env: config.env,
    tuning: config.tuning,
    webhooks: config.webhooks,
    queues: config.queues,
    // Timers stay off: a scheduled refresh in the middle of a measurement would measure it too.
    definitions: (definitions) => definitions.filter((definition) => definition.kind !== 'timer').map((definition) => invocations.wrap(definition)),
    roleSwitch: false,
    // BENCH_LOG=info (or debug) shows the app's log on stderr, for looking into a figure.
    logSink: process.env.BENCH_LOG ? logTo(process.env.BENCH_LOG) : undefined,
  });
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 100);
  const send = (message: InstanceMessage) => process.send?.(message);
  process.on('message', (raw) => {
    const message = parentMessageSchema.parse(raw);
    switch (message.type) {
      case 'stats': {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
        const cpu = process.cpuUsage();
        send({
          type: 'stats',
          id: message.id,
          stats: {
            storage: storage.snapshot(),
            invocations: invocations.snapshot(),
            peakRssMb: Math.round(peakRss / 1024 / 1024),
            cpuMs: Math.round((cpu.user + cpu.system) / 1000),
          },
        });
        return;
      }
      case 'reset':
        storage.reset();
        invocations.reset();
        peakRss = process.memoryUsage.rss();
        send({ type: 'reset', id: message.id });
        return;
      case 'stop':
        clearInterval(sampler);
        storage.stop();
        void app.stop().finally(() => {
          send({ type: 'stopped', id: message.id });
          process.disconnect();
          // Whatever keeps a socket open must not keep the instance (nor a CPU profile unwritten).
          setTimeout(() => process.exit(0), 2_000).unref();
        });
        return;
    }
  });
  send({ type: 'ready', url: app.url });
}

function logTo(level: string): LogSink {
  const wanted = level === 'debug' ? ['debug', 'info', 'warn', 'error'] : ['info', 'warn', 'error'];
  return (record: LogRecord) => {
    if (wanted.includes(record.level)) process.stderr.write(`[${process.pid}] ${JSON.stringify(record)}\n`);
  };
}

main().catch((error: unknown) => {
  console.error(error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
