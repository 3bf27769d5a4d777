// A run of an export: the public resource and the internal records behind it.
import { z } from 'zod';
import { providerNameSchema } from './provider';
import { listSchema } from './envelope';
import { runNotificationSchema } from './notification';

export const RUN_STATUSES = [
  'queued',
  'planning',
  'running',
  'succeeded',
  'partially_succeeded',
  'failed',
  'cancelled',
  'skipped',
] as const;
export const runStatusSchema = z.enum(RUN_STATUSES);
export type RunStatus = z.infer<typeof runStatusSchema>;

export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set(['succeeded', 'partially_succeeded', 'failed', 'cancelled', 'skipped']);
export const isTerminal = (status: RunStatus): boolean => TERMINAL_STATUSES.has(status);

// 'cleanup': a run that only removes (membership safety); 'source': a segment source brought a new version.
export const runTriggerSchema = z.enum(['schedule', 'on-demand', 'cleanup', 'source']);
export type RunTrigger = z.infer<typeof runTriggerSchema>;
export const runModeSchema = z.enum(['delta', 'full']);
export type RunMode = z.infer<typeof runModeSchema>;

export const TOTAL_NAMES = [
  'profiles',
  'invalid',
  'duplicates',
  'adds',
  'updates',
  'removes',
  'unchanged',
  'sent',
  'rejected',
  'failed',
  /** Members not sent because an erasure suppressed them (runs stored before there was a count read 0). */
  'suppressed',
] as const;
export type TotalName = (typeof TOTAL_NAMES)[number];
export const totalsSchema = z.object(
  Object.fromEntries(TOTAL_NAMES.map((name) => [name, name === 'suppressed' ? z.number().int().min(0).default(0) : z.number().int().min(0)])) as Record<
    TotalName,
    z.ZodNumber
  >,
);
export type Totals = z.infer<typeof totalsSchema>;
export const emptyTotals = (): Totals =>
  Object.fromEntries(TOTAL_NAMES.map((name) => [name, 0])) as Totals;

/**
 * Documents stored before a chunk's target key was called `targetKey` name it `target`: they are
 * read as if they said `targetKey` (and written back with the new name).
 */
function withTargetKey(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !('target' in value) || 'targetKey' in value) return value;
  const { target, ...rest } = value as Record<string, unknown>;
  return { ...rest, targetKey: target };
}

/** A chunk that could not be delivered, named on the run; `targetKey` is its target's ledger key. */
export const failedChunkSchema = z.preprocess(
  withTargetKey,
  z.object({ chunk: z.number().int(), targetKey: z.string(), records: z.number().int(), error: z.string() }),
);
export type FailedChunk = z.infer<typeof failedChunkSchema>;

/**
 * What the safety check found when planning ended: the shares it measured, and the threshold that
 * stopped the run (or, in a dry run, would have stopped it).
 */
export const safetyReportSchema = z.object({
  /** Planned removals and what the export held at the target where the share was highest. */
  removes: z.number().int().min(0),
  held: z.number().int().min(0),
  invalid: z.number().int().min(0),
  profiles: z.number().int().min(0),
  stoppedBy: z.enum(['removal_threshold_exceeded', 'invalid_threshold_exceeded']).optional(),
  confirmed: z.boolean(),
});
export type SafetyReport = z.infer<typeof safetyReportSchema>;

/** A failed chunk as the public run resource names it (its target key is `target` there). */
export const publicFailedChunkSchema = z.object({ chunk: z.number().int(), target: z.string(), records: z.number().int(), error: z.string() });
export type PublicFailedChunk = z.infer<typeof publicFailedChunkSchema>;

/** The run document: one row (RowKey `run`) in the run's own partition of the runs table. */
export const runDocSchema = z.object({
  runId: z.string(),
  exportId: z.string(),
  /** The export's connection when the run was created (a chunk does not need the export itself). */
  connectionId: z.string().optional(),
  provider: providerNameSchema,
  trigger: runTriggerSchema,
  mode: runModeSchema,
  dryRun: z.boolean(),
  status: runStatusSchema,
  reason: z.string().optional(),
  requestedBy: z.string(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  totals: totalsSchema,
  /** Known when planning has finished; until then the chunks written so far. */
  chunksTotal: z.number().int().min(0),
  planned: z.boolean(),
  chunksConfirmed: z.number().int().min(0),
  chunksFailed: z.number().int().min(0),
  failedChunks: z.array(failedChunkSchema),
  /** Segment versions the planner pinned (segmentId -> version). */
  segmentVersions: z.record(z.string(), z.string()),
  /** Run even when a safety threshold is exceeded (`?confirmRemovals=true`). */
  confirmRemovals: z.boolean().default(false),
  safety: safetyReportSchema.optional(),
  /** Set when the provider refused the key: every remaining chunk fails without a call. */
  abortReason: z.string().optional(),
});
export type RunDoc = z.infer<typeof runDocSchema>;

export const progressSchema = z.object({
  chunksTotal: z.number().int(),
  chunksDone: z.number().int(),
  percent: z.number(),
  etaSeconds: z.number().int().optional(),
});
export type Progress = z.infer<typeof progressSchema>;

/** The public run resource (`GET /api/runs/{runId}`). */
export const runResourceSchema = z.object({
  runId: z.string(),
  exportId: z.string(),
  trigger: runTriggerSchema,
  mode: runModeSchema,
  dryRun: z.boolean(),
  status: runStatusSchema,
  reason: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  totals: totalsSchema,
  progress: progressSchema,
  failedChunks: z.array(publicFailedChunkSchema).optional(),
  safety: safetyReportSchema.optional(),
  notifications: z.array(runNotificationSchema).optional().describe('Who was told that the run ended, and how that went'),
});
export type RunResource = z.infer<typeof runResourceSchema>;
export const runListSchema = listSchema(runResourceSchema);

/** What `POST /api/exports/{exportId}/runs` answers (202): where to follow the run. */
export const runStartedSchema = z.object({ runId: z.string(), status: runStatusSchema, statusUrl: z.string() });
export type RunStarted = z.infer<typeof runStartedSchema>;

/** What `POST /api/refresh` answers (202): the runs the refresh created or skipped. */
export const refreshResultSchema = z.object({ runs: z.array(runResourceSchema) });
export type RefreshResult = z.infer<typeof refreshResultSchema>;

export const runIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'not a run id');

/** The query of `POST /api/exports/{exportId}/runs`. */
export const startRunQuerySchema = z
  .object({
    mode: z
      .enum(['delta', 'full'], "must be 'delta' or 'full'")
      .default('delta')
      .describe('`full` sends every member again instead of what changed since the last run'),
    dryRun: z
      .enum(['true', 'false'], "must be 'true' or 'false'")
      .default('false')
      .describe('`true` plans the run and counts adds, updates and removes, but sends nothing'),
    confirmRemovals: z
      .enum(['true', 'false'], "must be 'true' or 'false'")
      .default('false')
      .describe("`true` runs it even when its removals or invalid emails exceed the export's safety shares"),
  })
  .strict();

/** The query of paged lists. */
export const pageQuerySchema = z
  .object({ continuationToken: z.string().max(2048).optional().describe('From the previous page; a token this API did not give out is a 400') })
  .strict();

export const CHUNK_STATUSES = ['pending', 'confirmed', 'failed'] as const;
export const chunkStatusSchema = z.enum(CHUNK_STATUSES);
export type ChunkStatus = z.infer<typeof chunkStatusSchema>;

/** A chunk row (RowKey `c-<number>`) in the run's partition. */
export const chunkDocSchema = z.preprocess(withTargetKey, z.object({
  chunk: z.number().int().min(0),
  /** The key of the destination target (its ledger key; the target itself is in the payload's operation). */
  targetKey: z.string(),
  kind: z.enum(['upsert', 'remove']),
  records: z.number().int().min(0),
  /** The records' size (UTF-8 bytes of their JSON), to bound what a process holds in memory. */
  bytes: z.number().int().min(0).optional(),
  status: chunkStatusSchema,
  /** The payload inline (small chunks) or the blob that holds it (claim check). */
  payloadBlob: z.string().optional(),
  payloadInline: z.string().optional(),
  /** The adapter's delivery state between requests. */
  state: z.string().optional(),
  steps: z.number().int().min(0),
  /** Transient failures in a row; the chunk fails after too many. */
  transientAttempts: z.number().int().min(0).optional(),
  lastError: z.string().optional(),
  rejected: z.number().int().min(0),
  webhookToken: z.string().optional(),
}));
export type ChunkDoc = z.infer<typeof chunkDocSchema>;

/**
 * Codes of provider rejects whose record was not delivered (the ledger keeps such records out). A
 * `phone_dropped` row is a note on a record that was delivered without its phone.
 */
export const UNDELIVERED_PROVIDER_CODES = ['provider_rejected', 'provider_unmatched'] as const;
export const PROVIDER_NOTE_CODES = ['phone_dropped'] as const;

/**
 * A rejected record: `code` is `missing_email`, `invalid_email`, `duplicate`, `provider_rejected`,
 * `provider_unmatched` (the provider reported a failure it could not name), `phone_dropped` or
 * `suppressed` (an erased person, its email shown masked).
 */
export const rejectRowSchema = z.object({
  email: z.string(),
  segmentId: z.string(),
  code: z.string().describe('`missing_email`, `invalid_email`, `duplicate`, `provider_rejected`, `provider_unmatched`, `phone_dropped` (sent without the phone), `suppressed` (its email shown masked), …'),
  reason: z.string(),
});
export type RejectRow = z.infer<typeof rejectRowSchema>;
export const rejectListSchema = listSchema(rejectRowSchema);

export const chunkMessageSchema = z.object({ runId: z.string().min(1), chunk: z.number().int().min(0) });
export type ChunkMessage = z.infer<typeof chunkMessageSchema>;
export const planMessageSchema = z.object({ runId: z.string().min(1) });
export type PlanMessage = z.infer<typeof planMessageSchema>;

