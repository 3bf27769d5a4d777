// The public run resource (`GET /api/runs/{runId}`) made from the run document: status, totals,
// progress with percent and ETA, and the failed chunks under their public field names.
import { isTerminal, type FailedChunk, type PublicFailedChunk, type RunDoc, type RunResource } from '../domain/run';

/** The resource of a run document, as of `now` (for the ETA). */
export function toRunResource(doc: RunDoc, now: Date): RunResource {
  const chunksDone = doc.chunksConfirmed + doc.chunksFailed;
  const chunksTotal = Math.max(doc.chunksTotal, chunksDone);
  const finished = isTerminal(doc.status);
  const percent = finished ? 100 : chunksTotal === 0 ? 0 : Math.min(99.9, Math.round((chunksDone / chunksTotal) * 1000) / 10);
  let etaSeconds: number | undefined;
  if (!finished && doc.planned && doc.startedAt && chunksDone > 0 && chunksTotal > chunksDone) {
    const elapsed = (now.getTime() - Date.parse(doc.startedAt)) / 1000;
    etaSeconds = Math.max(0, Math.round((elapsed / chunksDone) * (chunksTotal - chunksDone)));
  }
  const resource: RunResource = {
    runId: doc.runId,
    exportId: doc.exportId,
    trigger: doc.trigger,
    mode: doc.mode,
    dryRun: doc.dryRun,
    status: doc.status,
    createdAt: doc.createdAt,
    totals: doc.totals,
    progress: { chunksTotal, chunksDone, percent, ...(etaSeconds === undefined ? {} : { etaSeconds }) },
  };
  if (doc.reason) resource.reason = doc.reason;
  if (doc.startedAt) resource.startedAt = doc.startedAt;
  if (doc.finishedAt) resource.finishedAt = doc.finishedAt;
  if (doc.failedChunks.length > 0) resource.failedChunks = doc.failedChunks.map(toPublicFailedChunk);
  if (doc.safety) resource.safety = doc.safety;
  return resource;
}

/** The public resource names a failed chunk's target key `target` (the public contract predates `targetKey`). */
function toPublicFailedChunk({ chunk, targetKey, records, error }: FailedChunk): PublicFailedChunk {
  return { chunk, target: targetKey, records, error };
}
