// One definition per function, exported by its file in `functions/`: the real host registers it
// with `app.http` / `app.timer` / `app.storageQueue`, the local host and the tests run the very same
// object.
import type {
  HttpFunctionOptions,
  HttpMethod,
  HttpRequest,
  HttpResponseInit,
  InvocationContext,
  StorageQueueFunctionOptions,
  Timer,
  TimerFunctionOptions,
} from '@azure/functions';
import { toErrorResponse } from '../errors';
import { getAppContext } from './context';

export interface HttpDefinition {
  kind: 'http';
  name: string;
  options: HttpFunctionOptions & { route: string; methods: HttpMethod[] };
}

export interface TimerDefinition {
  kind: 'timer';
  name: string;
  options: TimerFunctionOptions;
}

export interface QueueDefinition {
  kind: 'queue';
  name: string;
  options: StorageQueueFunctionOptions & { queueName: string; connection: string };
}

export type FunctionDefinition = HttpDefinition | TimerDefinition | QueueDefinition;

export type HttpHandlerFn = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

export interface HttpTriggerOptions {
  route: string;
  methods: HttpMethod[];
}

/** An HTTP function whose every error goes through the one error mapping. */
export function defineHttp(name: string, trigger: HttpTriggerOptions, handler: HttpHandlerFn): HttpDefinition {
  return {
    kind: 'http',
    name,
    options: {
      route: trigger.route,
      methods: trigger.methods,
      // App Service Authentication guards the routes; function keys are not used.
      authLevel: 'anonymous',
      handler: async (request, context) => {
        try {
          return await handler(request, context);
        } catch (error) {
          const { status, body } = toErrorResponse(error);
          if (status >= 500) {
            getAppContext().log.error('request failed', {
              function: name,
              invocationId: context.invocationId,
              error: error instanceof Error ? error : String(error),
            });
          }
          return { status, jsonBody: body };
        }
      },
    },
  };
}

export function defineTimer(
  name: string,
  trigger: { schedule: string; runOnStartup?: boolean },
  handler: (timer: Timer, context: InvocationContext) => Promise<void>,
): TimerDefinition {
  return { kind: 'timer', name, options: { ...trigger, handler } };
}

/** A queue function on the app's storage account (`AzureWebJobsStorage`). */
export function defineQueue(
  name: string,
  trigger: { queueName: string },
  handler: (message: unknown, context: InvocationContext) => Promise<void>,
): QueueDefinition {
  return { kind: 'queue', name, options: { queueName: trigger.queueName, connection: 'AzureWebJobsStorage', handler } };
}

export type QueueHandlerFn = (message: unknown, context: InvocationContext) => Promise<void>;

/** The same queue function with its handler wrapped (fault tests: fail or crash around the real handler). */
export function wrapQueue(definition: QueueDefinition, wrap: (handler: QueueHandlerFn) => QueueHandlerFn): QueueDefinition {
  const handler: QueueHandlerFn = async (message, context) => {
    await definition.options.handler(message, context);
  };
  return { ...definition, options: { ...definition.options, handler: wrap(handler) } };
}

/** A JSON response. */
export function json(status: number, body: unknown, headers?: Record<string, string>): HttpResponseInit {
  return { status, jsonBody: body, headers };
}
