import { InvocationContext, type Timer } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import type { TimerDefinition } from '../../src/app/definitions';
import type { Logger } from '../../src/log';
import { parseNcrontab } from '../../src/schedule/ncrontab';

export interface TimerRunnerOptions {
  definitions: readonly TimerDefinition[];
  env: Record<string, string | undefined>;
  log: Logger;
}

export interface Runner {
  stop(): Promise<void>;
}

/** `%SETTING%` in a trigger option resolves to that app setting, as in the Functions host. */
export function resolveSettingExpression(value: string, env: Record<string, string | undefined>, what: string): string {
  return value.replace(/%([^%]+)%/g, (_, name: string) => {
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      throw new Error(`${what} refers to the app setting '${name}', which is not set`);
    }
    return resolved;
  });
}

const MAX_TIMEOUT_IN_MS = 2 ** 31 - 1;

/** Runs timer definitions on their NCRONTAB schedule (UTC); one invocation at a time per timer. */
export function startTimers(options: TimerRunnerOptions): Runner {
  const handles = new Map<string, NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let stopped = false;

  for (const definition of options.definitions) {
    const expression = resolveSettingExpression(definition.options.schedule, options.env, `Timer '${definition.name}'`);
    const schedule = parseNcrontab(expression);
    let last = new Date();

    const invoke = async (due: Date): Promise<void> => {
      const next = schedule.next(due);
      const timer: Timer = {
        isPastDue: Date.now() - due.getTime() > 1_000,
        schedule: { adjustForDST: false },
        scheduleStatus: { last: last.toISOString(), next: next.toISOString(), lastUpdated: new Date().toISOString() },
      };
      last = due;
      const context = new InvocationContext({ invocationId: randomUUID(), functionName: definition.name });
      try {
        await definition.options.handler(timer, context);
      } catch (error) {
        options.log.error('timer function failed', { function: definition.name, error: error instanceof Error ? error : String(error) });
      }
    };

    const arm = (after: Date): void => {
      if (stopped) return;
      const due = schedule.next(after);
      const wait = due.getTime() - Date.now();
      const handle = setTimeout(() => {
        if (wait > MAX_TIMEOUT_IN_MS) return arm(after);
        const run = invoke(due).finally(() => {
          running.delete(run);
          arm(due.getTime() < Date.now() ? new Date() : due);
        });
        running.add(run);
      }, Math.min(Math.max(0, wait), MAX_TIMEOUT_IN_MS));
      handles.set(definition.name, handle);
    };

    if (definition.options.runOnStartup) {
      const run = invoke(new Date()).finally(() => running.delete(run));
      running.add(run);
    }
    arm(new Date());
  }

  return {
    async stop() {
      stopped = true;
      for (const handle of handles.values()) clearTimeout(handle);
      await Promise.allSettled([...running]);
    },
  };
}
