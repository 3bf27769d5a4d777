// Messages the host gave up on (`maxDequeueCount` failures) land in `<queue>-poison`; these
// handlers record them on the run instead of leaving a run that never ends.
import type { AppContext } from '../app/context';
import type { ChunkMessage } from '../domain/run';
import { failChunk, finishRun } from './run-state';
import { getChunkDoc } from './store/runs-table';

export async function planPoisoned(context: AppContext, runId: string): Promise<void> {
  await finishRun(context, runId, 'failed', 'Planning failed repeatedly; see the logs of the planner for this run');
}

export async function chunkPoisoned(context: AppContext, message: ChunkMessage): Promise<void> {
  const chunk = await getChunkDoc(context, message.runId, message.chunk);
  const lastError = chunk?.value.lastError ?? 'unknown error';
  await failChunk(context, message.runId, message.chunk, `Delivery failed repeatedly and the chunk went to the poison queue: ${lastError}`);
}
