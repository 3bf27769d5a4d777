// A chunk's delivery between requests: the adapter's state and the steps taken are kept on the
// chunk (through run-state), and a chunk that must wait goes back to its queue with the delay.
import type { AppContext } from '../../app/context';
import type { ChunkDoc, RunDoc } from '../../domain/run';
import type { DeliveryState } from '../../providers/types';
import { requeueChunk } from '../queues';
import { saveChunkProgress } from '../run-state';
import type { Versioned } from '../store/runs-table';

export class Delivery {
  private steps = 0;

  constructor(
    private readonly context: AppContext,
    private readonly run: RunDoc,
    private chunk: Versioned<ChunkDoc>,
  ) {}

  get transientAttempts(): number {
    return this.chunk.value.transientAttempts ?? 0;
  }

  stepped(): void {
    this.steps++;
  }

  /** Saves the progress and re-enqueues the chunk; a chunk someone else moved on is left to that delivery. */
  async later(state: DeliveryState, delayInMs: number, progress: { lastError?: string; transientAttempts?: number } = {}): Promise<void> {
    const saved = await saveChunkProgress(this.context, this.run.runId, this.chunk, {
      state: JSON.stringify(state),
      steps: this.chunk.value.steps + this.steps,
      lastError: progress.lastError ?? this.chunk.value.lastError,
      transientAttempts: progress.transientAttempts ?? 0,
    });
    if (!saved) return;
    this.chunk = saved;
    this.steps = 0;
    await requeueChunk(this.context, this.run.provider, { runId: this.run.runId, chunk: saved.value.chunk }, delayInMs);
  }

  /** Saves the progress and goes on in this invocation; false when someone else moved the chunk on (stop then). */
  async save(state: DeliveryState): Promise<boolean> {
    const saved = await saveChunkProgress(this.context, this.run.runId, this.chunk, {
      state: JSON.stringify(state),
      steps: this.chunk.value.steps + this.steps,
      transientAttempts: 0,
    });
    if (!saved) return false;
    this.chunk = saved;
    this.steps = 0;
    return true;
  }

  /** Keeps the last error on the chunk, for the poison handler to report (best effort). */
  async recordError(error: unknown): Promise<void> {
    await saveChunkProgress(this.context, this.run.runId, this.chunk, { lastError: error instanceof Error ? error.message : String(error) }).catch(() => undefined);
  }
}
