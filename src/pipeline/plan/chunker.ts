// Cuts a target's adds/updates and removes into provider-sized chunks (records and bytes, from the
// adapter's limits), stores each payload, writes the chunk rows and enqueues one message per chunk
// on the provider's queue. Chunk numbers follow the plan's order, so a re-planned run numbers its
// chunks the same way and skips those that already exist.
import type { AppContext } from '../../app/context';
import type { ChunkDoc, ChunkStatus } from '../../domain/run';
import { chunkItemBytes } from '../../providers/records';
import type { ChunkOperation, ProviderName, Target, UpsertRecord } from '../../domain/provider';
import type { ChunkLimits } from '../../providers/types';
import { enqueueChunks } from '../queues';
import { storeChunkPayload } from '../store/chunk-payload';
import { addPlannedChunks } from '../run-state';
import { MAX_TRANSACTION_ACTIONS } from '../store/runs-table';

/** A prepared destination target and its ledger key (the chunk rows' `targetKey`). */
export interface PlannedTarget {
  key: string;
  target: Target;
}

interface Buffered {
  upserts: UpsertRecord[];
  upsertBytes: number;
  removes: string[];
  removeBytes: number;
}

const PARALLEL_WRITES = 8;
const MAX_ROW_DELAY_IN_MS = 250;

export interface ChunkWriterOptions {
  provider: ProviderName;
  limits: { upsert: ChunkLimits; remove: ChunkLimits };
  /** Chunks that exist from an earlier attempt of this run's planning. */
  existing: ReadonlyMap<number, ChunkStatus>;
  /** Brevo with PUBLIC_BASE_URL: each import gets a webhook token. */
  webhookToken?: () => string;
  onChunk?: (chunksWritten: number) => void;
}

export class ChunkWriter {
  private next = 0;
  private readonly buffers = new Map<string, Buffered>();
  private rows: ChunkDoc[] = [];
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly context: AppContext,
    private readonly runId: string,
    private readonly options: ChunkWriterOptions,
  ) {}

  get chunksWritten(): number {
    return this.next;
  }

  async addUpsert(target: PlannedTarget, record: UpsertRecord): Promise<void> {
    const buffer = this.bufferOf(target.key);
    const bytes = chunkItemBytes(record);
    const { maxRecords, maxBytes } = this.options.limits.upsert;
    if (buffer.upserts.length > 0 && (buffer.upserts.length >= maxRecords || buffer.upsertBytes + bytes > maxBytes)) {
      await this.emit(target, { kind: 'upsert', target: target.target, records: buffer.upserts });
      buffer.upserts = [];
      buffer.upsertBytes = 0;
    }
    buffer.upserts.push(record);
    buffer.upsertBytes += bytes;
  }

  async addRemove(target: PlannedTarget, email: string): Promise<void> {
    const buffer = this.bufferOf(target.key);
    const bytes = chunkItemBytes(email);
    const { maxRecords, maxBytes } = this.options.limits.remove;
    if (buffer.removes.length > 0 && (buffer.removes.length >= maxRecords || buffer.removeBytes + bytes > maxBytes)) {
      await this.emit(target, { kind: 'remove', target: target.target, emails: buffer.removes });
      buffer.removes = [];
      buffer.removeBytes = 0;
    }
    buffer.removes.push(email);
    buffer.removeBytes += bytes;
  }

  /** Emits what is left of a target. */
  async flushTarget(target: PlannedTarget): Promise<void> {
    const buffer = this.bufferOf(target.key);
    if (buffer.upserts.length > 0) await this.emit(target, { kind: 'upsert', target: target.target, records: buffer.upserts });
    if (buffer.removes.length > 0) await this.emit(target, { kind: 'remove', target: target.target, emails: buffer.removes });
    this.buffers.delete(target.key);
  }

  /** Writes every pending row and message; answers the number of chunks of the plan. */
  async finish(): Promise<number> {
    await this.drain();
    await this.writeRows();
    return this.next;
  }

  private bufferOf(key: string): Buffered {
    let buffer = this.buffers.get(key);
    if (!buffer) {
      buffer = { upserts: [], upsertBytes: 0, removes: [], removeBytes: 0 };
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  private async emit(target: PlannedTarget, operation: ChunkOperation): Promise<void> {
    const chunk = this.next++;
    this.options.onChunk?.(this.next);
    const existing = this.options.existing.get(chunk);
    if (existing !== undefined) {
      // Planned by an earlier attempt: its row exists. A pending one may have lost its message.
      if (existing === 'pending') await this.track(this.enqueue([chunk]));
      return;
    }
    const records = operation.kind === 'upsert' ? operation.records.length : operation.emails.length;
    const payload = JSON.stringify(operation);
    const bytes = Buffer.byteLength(payload);
    await this.track(
      storeChunkPayload(this.context, this.runId, chunk, payload).then(async (stored) => {
        this.rows.push({
          chunk,
          targetKey: target.key,
          kind: operation.kind,
          records,
          bytes,
          status: 'pending',
          ...stored,
          steps: 0,
          rejected: 0,
          webhookToken: operation.kind === 'upsert' ? this.options.webhookToken?.() : undefined,
        });
        // Rows go out in transactions of 100, but never wait long: delivery starts with the first chunk.
        if (this.rows.length >= MAX_TRANSACTION_ACTIONS || performance.now() - this.lastWriteAt >= MAX_ROW_DELAY_IN_MS) await this.writeRows();
      }),
    );
  }

  private async writeRows(): Promise<void> {
    this.lastWriteAt = performance.now();
    const rows = this.rows.sort((a, b) => a.chunk - b.chunk);
    this.rows = [];
    if (rows.length === 0) return;
    await addPlannedChunks(this.context, this.runId, rows);
    await this.enqueue(rows.map((row) => row.chunk));
  }

  private async enqueue(chunks: readonly number[]): Promise<void> {
    await enqueueChunks(this.context, this.options.provider, this.runId, chunks);
  }

  private async track(work: Promise<void>): Promise<void> {
    const tracked = work.finally(() => this.inFlight.delete(tracked));
    // Handled here; whoever awaits the set sees the failure.
    tracked.catch(() => undefined);
    this.inFlight.add(tracked);
    if (this.inFlight.size >= PARALLEL_WRITES) await Promise.race(this.inFlight);
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
