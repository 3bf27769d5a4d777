// Whether an export is complete: the description is still the one that was read, every partition
// it lists exists, and each one's size and ETag are the same in two reads some seconds apart (a
// writer that is still appending, or a partition that is replaced, changes one of them).
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerClient } from '@azure/storage-blob';
import type { SourceFile } from '../domain/source';
import type { OperationOptions } from '../app/operation';

export interface BlobState {
  blobName: string;
  etag: string;
  size: number;
}

export type Completeness = { complete: true; partitions: BlobState[] } | { complete: false; reason: string };

export interface CheckCompleteOptions extends OperationOptions {
  /** The wait between the two reads. */
  delayInMs: number;
}

/** Reads this many blobs' properties at once. */
const PARALLEL_READS = 16;
export const DEFAULT_STABILITY_DELAY_IN_MS = 5_000;

export async function checkComplete(
  container: ContainerClient,
  descriptor: SourceFile,
  partitions: readonly string[],
  options: CheckCompleteOptions,
): Promise<Completeness> {
  const first = await readStates(container, [descriptor.path, ...partitions], options);
  const problem = firstProblem(descriptor, partitions, first, undefined);
  if (problem) return { complete: false, reason: problem };
  await sleep(options.delayInMs, undefined, { signal: options.abortSignal });
  const second = await readStates(container, [descriptor.path, ...partitions], options);
  const changed = firstProblem(descriptor, partitions, second, first);
  if (changed) return { complete: false, reason: changed };
  return { complete: true, partitions: second.slice(1) as BlobState[] };
}

function firstProblem(descriptor: SourceFile, partitions: readonly string[], states: (BlobState | undefined)[], before: (BlobState | undefined)[] | undefined): string | undefined {
  const [model, ...parts] = states;
  if (!model || !sameEtag(model.etag, descriptor.etag)) return `${descriptor.path} changed since it was read: a newer export is being written`;
  for (let i = 0; i < partitions.length; i++) {
    const state = parts[i];
    if (!state) return `partition ${partitions[i]!} does not exist (yet)`;
    const earlier = before?.[i + 1];
    if (earlier && (!sameEtag(earlier.etag, state.etag) || earlier.size !== state.size)) return `partition ${partitions[i]!} is still being written (its size or ETag changed)`;
  }
  return undefined;
}

/** Listings name ETags bare (`0x8D…`), headers quoted (`"0x8D…"`): the same ETag either way. */
export function sameEtag(a: string, b: string): boolean {
  return a.replace(/^"|"$/g, '') === b.replace(/^"|"$/g, '');
}

async function readStates(container: ContainerClient, blobNames: readonly string[], options: OperationOptions): Promise<(BlobState | undefined)[]> {
  const states: (BlobState | undefined)[] = [];
  for (let start = 0; start < blobNames.length; start += PARALLEL_READS) {
    const batch = blobNames.slice(start, start + PARALLEL_READS);
    states.push(...(await Promise.all(batch.map((blobName) => readState(container, blobName, options)))));
  }
  return states;
}

async function readState(container: ContainerClient, blobName: string, options: OperationOptions): Promise<BlobState | undefined> {
  try {
    const properties = await container.getBlobClient(blobName).getProperties({ abortSignal: options.abortSignal });
    return { blobName, etag: properties.etag ?? '', size: properties.contentLength ?? 0 };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}
