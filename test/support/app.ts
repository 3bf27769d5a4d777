import { inject } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../dev/sandbox';

/**
 * The whole app for end-to-end tests (see dev/sandbox.ts) on the tests' shared Azurite, in a
 * namespace of its own. `TEST_LOG=1` prints the app's log.
 */
export type TestApp = Sandbox;

export type StartTestAppOptions = Omit<SandboxOptions, 'connectionString' | 'queues'> & { maxDequeueCount?: number };

export async function startTestApp(options: StartTestAppOptions = {}): Promise<TestApp> {
  const { maxDequeueCount, ...rest } = options;
  // A listener leak (an abort listener left on a long-lived signal per request) shows as Node's
  // MaxListenersExceededWarning: closing the app fails the test file that caused one.
  const leaks: Error[] = [];
  const onWarning = (warning: Error) => {
    if (warning.name === 'MaxListenersExceededWarning') leaks.push(warning);
  };
  process.on('warning', onWarning);
  const sandbox = await startSandbox({
    ...rest,
    connectionString: inject('storageConnectionString'),
    queues: maxDequeueCount === undefined ? {} : { maxDequeueCount },
    logSink: process.env.TEST_LOG ? (record) => console.log(JSON.stringify(record)) : undefined,
  }).catch((error: unknown) => {
    process.off('warning', onWarning);
    throw error;
  });
  const close = sandbox.close.bind(sandbox);
  return Object.assign(sandbox, {
    async close() {
      await close();
      process.off('warning', onWarning);
      if (leaks.length > 0) throw new Error(`The app warned of a listener leak: ${leaks.map((leak) => leak.message).join('; ')}`);
    },
  });
}

/** A CSV segment: `CustomerId,Email,FirstName,LastName,City`. */
export function segmentCsv(members: readonly { id: string; email: string; firstName?: string; lastName?: string; city?: string }[]): string {
  const lines = ['CustomerId,Email,FirstName,LastName,City'];
  for (const member of members) {
    lines.push([member.id, member.email, member.firstName ?? '', member.lastName ?? '', member.city ?? ''].join(','));
  }
  return `${lines.join('\n')}\n`;
}
