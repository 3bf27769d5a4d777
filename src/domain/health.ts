import { z } from 'zod';

/** What `GET /api/health` answers: each dependency's state and nothing else (the route is public). */
export const dependencyStateSchema = z.enum(['up', 'down']);
export type DependencyState = z.infer<typeof dependencyStateSchema>;

export const healthReportSchema = z.object({
  status: z.enum(['healthy', 'unhealthy']),
  checks: z
    .record(z.string(), z.object({ state: dependencyStateSchema, latencyInMs: z.number().int().min(0) }))
    .describe('By dependency: `tables`, `queues`, `blobs` and, when configured, `keyVault`'),
});
export type HealthReport = z.infer<typeof healthReportSchema>;
