// What the benchmark and its app instances say to each other over the IPC channel, checked both ways.
import { z } from 'zod';

const port = z.number().int().min(1).max(65_535);

export const instanceConfigSchema = z.object({
  connectionString: z.string().min(1),
  namespace: z.string().min(1),
  secretsFile: z.string().min(1),
  env: z.record(z.string(), z.string()),
  tuning: z.object({
    rateScale: z.number().positive().optional(),
    providerTiming: z
      .object({
        brevoPollIntervalMs: z.number().optional(),
        brevoNotifyFallbackMs: z.number().optional(),
        omnisendBatchPollMs: z.number().optional(),
      })
      .optional(),
    plannerListingBudgetMs: z.number().optional(),
  }),
  queues: z.object({
    batchSize: z.number().int().optional(),
    newBatchThreshold: z.number().int().optional(),
    maxDequeueCount: z.number().int().optional(),
    visibilityTimeout: z.string().optional(),
    maxPollingInterval: z.string().optional(),
  }),
  webhooks: z.boolean(),
  storagePorts: z.object({ blob: port, queue: port, table: port }),
});
export type InstanceConfig = z.infer<typeof instanceConfigSchema>;

export const parentMessageSchema = z.object({ type: z.enum(['stats', 'reset', 'stop']), id: z.number().int() });
export type ParentMessage = z.infer<typeof parentMessageSchema>;

const countsSchema = z.record(z.string(), z.number());
export const instanceStatsSchema = z.object({
  /** By origin (`host` or a function's name), service and operation. */
  storage: z.record(z.string(), z.object({ blob: countsSchema, queue: countsSchema, table: countsSchema })),
  invocations: z.object({
    functions: z.record(z.string(), z.object({ kind: z.enum(['http', 'timer', 'queue']), executions: z.number(), ms: z.number() })),
    busyMs: z.number(),
    backgroundBusyMs: z.number(),
  }),
  peakRssMb: z.number(),
  cpuMs: z.number(),
});
export type InstanceStats = z.infer<typeof instanceStatsSchema>;

export const instanceMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), url: z.string() }),
  z.object({ type: z.literal('stats'), id: z.number().int(), stats: instanceStatsSchema }),
  z.object({ type: z.literal('reset'), id: z.number().int() }),
  z.object({ type: z.literal('stopped'), id: z.number().int() }),
]);
export type InstanceMessage = z.infer<typeof instanceMessageSchema>;
