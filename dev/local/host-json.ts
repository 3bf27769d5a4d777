import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The parts of host.json the local host honours, with the Functions host's defaults. */
const timeSpan = z.string().regex(/^\d{1,2}:\d{2}:\d{2}(\.\d+)?$/, 'a TimeSpan hh:mm:ss');

const hostJsonSchema = z.object({
  version: z.literal('2.0'),
  functionTimeout: timeSpan.optional(),
  extensions: z
    .object({
      http: z.object({ routePrefix: z.string().optional() }).partial().optional(),
      queues: z
        .object({
          batchSize: z.number().int().min(1).max(32),
          newBatchThreshold: z.number().int().min(0),
          maxDequeueCount: z.number().int().min(1),
          visibilityTimeout: timeSpan,
          maxPollingInterval: timeSpan,
          messageEncoding: z.enum(['base64', 'none']),
        })
        .partial()
        .optional(),
    })
    .optional(),
});

export interface HostSettings {
  routePrefix: string;
  functionTimeoutInMs: number;
  queues: {
    batchSize: number;
    newBatchThreshold: number;
    maxDequeueCount: number;
    visibilityTimeoutInMs: number;
    maxPollingIntervalInMs: number;
    messageEncoding: 'base64' | 'none';
  };
}

export function parseHostJson(json: unknown): HostSettings {
  const host = hostJsonSchema.parse(json);
  const queues = host.extensions?.queues ?? {};
  const batchSize = queues.batchSize ?? 16;
  return {
    routePrefix: (host.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, ''),
    functionTimeoutInMs: toMs(host.functionTimeout ?? '00:30:00'),
    queues: {
      batchSize,
      newBatchThreshold: queues.newBatchThreshold ?? Math.floor(batchSize / 2),
      maxDequeueCount: queues.maxDequeueCount ?? 5,
      visibilityTimeoutInMs: toMs(queues.visibilityTimeout ?? '00:00:00'),
      maxPollingIntervalInMs: toMs(queues.maxPollingInterval ?? '00:01:00'),
      messageEncoding: queues.messageEncoding ?? 'base64',
    },
  };
}

export function readHostJson(path: string): HostSettings {
  return parseHostJson(JSON.parse(readFileSync(path, 'utf8')));
}

function toMs(span: string): number {
  const [hours, minutes, seconds] = span.split(':').map(Number) as [number, number, number];
  return Math.round(((hours * 60 + minutes) * 60 + seconds) * 1000);
}
