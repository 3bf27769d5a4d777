// The ledger: what a destination target (an Iterable list, an Omnisend tag, the Brevo list)
// already holds from this export. It is a snapshot blob written by each run's planner — every
// member the run leaves in the target (`P`) and every member it removes (`R`), with a hash of the
// mapped fields — plus that run's outcome: the records it did not deliver are exceptions that the
// next planner applies (an add that failed is absent, an update that failed is stale, a removal
// that failed is still present). The planner's input is therefore fixed for the whole run, so a
// re-planned run produces the same chunks.
import { odata } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../../app/context';
import type { OperationOptions } from '../../app/operation';
import { chunkOperationSchema, targetSchema, type ChunkOperation, type Target } from '../../domain/provider';
import { deleteEntity, getEntity, isNotFound, replaceEntityIfUnchanged } from '../../storage/tables';
import { hashEmail, hashEmailBytes, type Hash64 } from '../../hashing/hash';
import { HashIndex } from '../../hashing/hash-index';
import { BlobLineWriter } from '../store/blob-lines';
import { readLines } from '../store/lines';
import { listChunkDocs } from '../store/runs-table';
import { listProviderRejects } from '../store/rejects';
import { deleteChunkPayloads, readChunkPayload } from '../store/chunk-payload';

export const FLAG_PRESENT = 1;
export const FLAG_STALE = 2;
export const FLAG_SEEN = 4;
/** In the target before this export first added anyone: never removed, never counted as ours (`F` lines). */
export const FLAG_FOREIGN = 8;
/** Seen by the safety survey (a pass of its own before planning). */
export const FLAG_SURVEYED = 16;

const EXCEPTION_ABSENT = 1;
const EXCEPTION_STALE = 2;
const EXCEPTION_KEEP = 3;

/** `members`: its `P` and `F` lines, so that the next run sizes its tables once (absent in snapshots of older versions). */
const snapshotRefSchema = z.object({ blob: z.string(), runId: z.string(), members: z.number().int().min(0).optional() });
type SnapshotRef = z.infer<typeof snapshotRefSchema>;
const manifestRowSchema = z.object({
  rowKey: z.string(),
  current: z.string().optional(),
  previous: z.string().optional(),
  /** The provider target (JSON), so that a target the export no longer feeds can still be emptied. */
  target: z.string().optional(),
});

/** A target the export's ledger knows, with the provider target its members are in. */
export interface LedgerTarget {
  targetKey: string;
  target: Target | undefined;
}

export interface LedgerBase {
  /** The snapshot this run starts from and the run whose outcome applies to it. */
  base: SnapshotRef | undefined;
}

export interface LoadedLedger extends LedgerBase {
  index: HashIndex;
  exceptions: HashIndex;
}

function ledgerTable(context: AppContext) {
  return context.storage.table(context.storage.names.tables.ledger);
}

function ledgerContainer(context: AppContext) {
  return context.storage.container(context.storage.names.containers.ledgers);
}

export function snapshotBlobName(exportId: string, targetKey: string, runId: string): string {
  return `${exportId}/${targetKey}/${runId}.tsv`;
}

/** The snapshot a run of `exportId` starts from: the newest one not written by this very run; undefined for a first run. */
export async function getLedgerBase(
  context: AppContext,
  exportId: string,
  targetKey: string,
  runId: string,
  options: OperationOptions = {},
): Promise<SnapshotRef | undefined> {
  const manifest = await getManifest(context, exportId, targetKey, options);
  if (manifest.current?.runId === runId) return manifest.previous;
  return manifest.current;
}

/** The target's current and previous snapshots (none before a first run). */
async function getManifest(context: AppContext, exportId: string, targetKey: string, options: OperationOptions) {
  const row = await getEntity(ledgerTable(context), exportId, targetKey, manifestRowSchema, options);
  const parse = (text: string | undefined) => (text ? snapshotRefSchema.parse(JSON.parse(text)) : undefined);
  return { current: parse(row?.current), previous: parse(row?.previous) };
}

/** Makes `runId`'s snapshot (of `members` present and foreign members) the current one (idempotent for a re-planned run). */
export async function commitSnapshot(
  context: AppContext,
  exportId: string,
  targetKey: string,
  runId: string,
  target: Target,
  options: OperationOptions & { members?: number } = {},
): Promise<void> {
  const { abortSignal, members } = options;
  const manifest = await getManifest(context, exportId, targetKey, options);
  if (manifest.current?.runId === runId) return;
  const current: SnapshotRef = { blob: snapshotBlobName(exportId, targetKey, runId), runId, ...(members === undefined ? {} : { members }) };
  await ledgerTable(context).upsertEntity(
    {
      partitionKey: exportId,
      rowKey: targetKey,
      current: JSON.stringify(current),
      previous: manifest.current ? JSON.stringify(manifest.current) : '',
      target: JSON.stringify(target),
    },
    'Replace',
    { abortSignal },
  );
  if (manifest.previous) {
    // Two runs back: its snapshot and its chunks' records (which only the run after it needed,
    // to learn what it failed to deliver) are no longer read by anyone.
    await ledgerContainer(context).deleteBlob(manifest.previous.blob, { deleteSnapshots: 'include', abortSignal }).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    await deleteChunkPayloads(context, manifest.previous.runId, options);
  }
}

/** Every target the export's ledger knows (the ones it feeds now and the ones it no longer does). */
export async function listLedgerTargets(context: AppContext, exportId: string): Promise<LedgerTarget[]> {
  const targets: LedgerTarget[] = [];
  for await (const entity of ledgerTable(context).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${exportId}` } })) {
    const row = manifestRowSchema.parse(entity);
    const target = row.target ? targetSchema.safeParse(JSON.parse(row.target)) : undefined;
    targets.push({ targetKey: row.rowKey, target: target?.success ? target.data : undefined });
  }
  return targets;
}

/** Forgets one target's ledger: the export no longer feeds it and holds nobody there. */
export async function retireLedgerTarget(context: AppContext, exportId: string, targetKey: string): Promise<void> {
  await deleteEntity(ledgerTable(context), exportId, targetKey);
  for await (const blob of ledgerContainer(context).listBlobsFlat({ prefix: `${exportId}/${targetKey}/` })) {
    await ledgerContainer(context).deleteBlob(blob.name).catch(() => undefined);
  }
}

/** Forgets everything an export's ledger holds (the export is deleted), best effort: a row or blob that cannot be deleted is left. */
export async function deleteLedger(context: AppContext, exportId: string, options: OperationOptions = {}): Promise<void> {
  const { abortSignal } = options;
  const table = ledgerTable(context);
  for await (const entity of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${exportId}` }, abortSignal })) {
    await table.deleteEntity(exportId, String(entity.rowKey), { abortSignal }).catch(() => undefined);
  }
  for await (const blob of ledgerContainer(context).listBlobsFlat({ prefix: `${exportId}/`, abortSignal })) {
    await ledgerContainer(context).deleteBlob(blob.name, { abortSignal }).catch(() => undefined);
  }
}

/** Headroom over the larger of the ledger and the segments, for the members new to the target: more only grows the table. */
const NEW_MEMBERS_ROOM = 0.05;

/**
 * Loads what the target holds: the base snapshot with the base run's undelivered records applied.
 * `segmentMembers` (the members of the segments the caller will add to the index) sizes the index
 * for both, once: at ten million members a table grown by copying would need half as much again.
 */
export async function loadLedger(
  context: AppContext,
  exportId: string,
  targetKey: string,
  runId: string,
  options: OperationOptions & { segmentMembers?: number } = {},
): Promise<LoadedLedger> {
  const base = await getLedgerBase(context, exportId, targetKey, runId, options);
  const exceptions = base ? await loadExceptions(context, base.runId, targetKey, options) : new HashIndex(16);
  const expected = Math.max(base?.members ?? 0, options.segmentMembers ?? 0);
  const index = new HashIndex(Math.ceil(expected * (options.segmentMembers ? 1 + NEW_MEMBERS_ROOM : 1)));
  if (base) {
    await scanSnapshot(context, base, exceptions, (entry) => {
      index.set(entry.key, entry.fieldsHash, FLAG_PRESENT | (entry.stale ? FLAG_STALE : 0) | (entry.foreign ? FLAG_FOREIGN : 0));
    }, options);
  }
  return { base, index, exceptions };
}

export interface LedgerEntry {
  key: Hash64;
  fieldsHash: number;
  stale: boolean;
  /** In the target before the export first added anyone: never removed. */
  foreign: boolean;
  /** The email, decoded on demand (most entries never need it). */
  email(): string;
}

const TAB = 9;
const NEWLINE = 10;
const PRESENT = 80; // 'P'
const FOREIGN = 70; // 'F'

/**
 * Calls `visit` for every member the target holds: the snapshot with the exceptions applied. The
 * snapshot is ASCII (emails are validated ASCII), so it is read as bytes: a million lines without a
 * string each.
 */
export async function scanSnapshot(
  context: AppContext,
  base: SnapshotRef,
  exceptions: HashIndex,
  visit: (entry: LedgerEntry) => void | Promise<void>,
  options: OperationOptions = {},
): Promise<void> {
  const download = await ledgerContainer(context).getBlobClient(base.blob).download(0, undefined, { abortSignal: options.abortSignal });
  if (!download.readableStreamBody) return;
  let carry: Buffer | undefined;
  for await (const piece of download.readableStreamBody as AsyncIterable<Buffer>) {
    const bytes = carry ? Buffer.concat([carry, piece]) : piece;
    let start = 0;
    for (let end = bytes.indexOf(NEWLINE, start); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
      const entry = parseLine(bytes, start, end, exceptions);
      start = end + 1;
      if (!entry) continue;
      const pending = visit(entry);
      if (pending) await pending;
    }
    carry = start < bytes.length ? bytes.subarray(start) : undefined;
  }
  if (carry && carry.length > 0) {
    const entry = parseLine(carry, 0, carry.length, exceptions);
    if (entry) await visit(entry);
  }
}

/** One `email \t fieldsHash \t P|R|F` line, or undefined when the target no longer holds it. */
function parseLine(bytes: Buffer, start: number, end: number, exceptions: HashIndex): LedgerEntry | undefined {
  const tab1 = bytes.indexOf(TAB, start);
  if (tab1 < 0 || tab1 >= end) return undefined;
  const tab2 = bytes.indexOf(TAB, tab1 + 1);
  let fieldsHash = 0;
  for (let i = tab1 + 1; i < (tab2 < 0 || tab2 > end ? end : tab2); i++) fieldsHash = fieldsHash * 10 + (bytes[i]! - 48);
  const state = tab2 < 0 || tab2 >= end ? PRESENT : bytes[tab2 + 1];
  const foreign = state === FOREIGN;
  const present = state === PRESENT || foreign;
  const key = hashEmailBytes(bytes, start, tab1);
  const slot = exceptions.size > 0 ? exceptions.find(key) : -1;
  const exception = slot >= 0 ? exceptions.valueAt(slot) : 0;
  if (present ? exception === EXCEPTION_ABSENT : exception !== EXCEPTION_KEEP) return undefined;
  return { key, fieldsHash, stale: present && exception === EXCEPTION_STALE, foreign, email: () => bytes.toString('latin1', start, tab1) };
}

/** The records of `runId` for this target that were not delivered. */
async function loadExceptions(context: AppContext, runId: string, targetKey: string, options: OperationOptions): Promise<HashIndex> {
  const exceptions = new HashIndex(64);
  const mark = (operation: ChunkOperation, only?: ReadonlySet<string>) => {
    if (operation.kind === 'upsert') {
      for (const record of operation.records) {
        if (only && !only.has(record.email)) continue;
        exceptions.set(hashEmail(record.email), record.isNew ? EXCEPTION_ABSENT : EXCEPTION_STALE);
      }
    } else {
      for (const email of operation.emails) {
        if (only && !only.has(email)) continue;
        exceptions.set(hashEmail(email), EXCEPTION_KEEP);
      }
    }
  };
  for await (const chunk of listChunkDocs(context, runId, options)) {
    if (chunk.targetKey !== targetKey || chunk.status === 'confirmed') continue;
    const operation = chunkOperationSchema.parse(await readChunkPayload(context, runId, chunk, options));
    mark(operation);
  }
  for await (const reject of listProviderRejects(context, runId, targetKey, options)) {
    if (reject.op === 'remove') exceptions.set(hashEmail(reject.email), EXCEPTION_KEEP);
    else exceptions.set(hashEmail(reject.email), reject.op === 'add' ? EXCEPTION_ABSENT : EXCEPTION_STALE);
  }
  return exceptions;
}

/** Streams a new snapshot to its blob; lines are `email \t fieldsHash \t P|R|F` (present, removed, foreign). */
export class SnapshotWriter {
  private readonly lines: BlobLineWriter;
  /** The `P` and `F` lines written: what the next run's ledger holds before its exceptions. */
  members = 0;

  constructor(context: AppContext, exportId: string, targetKey: string, runId: string) {
    const blob = ledgerContainer(context).getBlockBlobClient(snapshotBlobName(exportId, targetKey, runId));
    this.lines = new BlobLineWriter(blob, 'text/tab-separated-values');
  }

  write(email: string, fieldsHash: number, state: 'P' | 'R' | 'F'): Promise<void> {
    if (state !== 'R') this.members++;
    return this.lines.write(`${email}\t${fieldsHash}\t${state}\n`);
  }

  close(): Promise<void> {
    return this.lines.close();
  }

  abort(): void {
    this.lines.abort();
  }
}

/**
 * Whether the target holds `email` from this export now (the current snapshot with its run's
 * undelivered records applied): a data-subject erasure asks before it removes anyone. A foreign
 * member (there before the export added anyone) is not held: the export never added them.
 */
export async function ledgerHolds(context: AppContext, exportId: string, targetKey: string, email: string, options: OperationOptions = {}): Promise<boolean> {
  const { current } = await getManifest(context, exportId, targetKey, options);
  if (!current) return false;
  const exceptions = await loadExceptions(context, current.runId, targetKey, options);
  let held = false;
  await scanSnapshot(context, current, exceptions, (entry) => {
    if (!held && !entry.foreign && entry.email() === email) held = true;
  }, options);
  return held;
}

const MAX_LEDGER_REWRITES = 5;

/**
 * Takes `email` out of the target's current and previous snapshots (an erasure: the next run must
 * not believe we still hold them, and the app keeps no erased address). Each snapshot is rewritten
 * to a new blob without the person's lines, the manifest row moves to it under its ETag (a run
 * committing meanwhile wins, and the rewrite starts again from its snapshot), and the old blobs go.
 */
export async function dropFromLedger(context: AppContext, exportId: string, targetKey: string, email: string, options: OperationOptions = {}): Promise<void> {
  const table = ledgerTable(context);
  for (let attempt = 0; attempt < MAX_LEDGER_REWRITES; attempt++) {
    const row = await getEntity(table, exportId, targetKey, manifestRowSchema.extend({ etag: z.string() }), options);
    if (!row) return;
    const parse = (text: string | undefined) => (text ? snapshotRefSchema.parse(JSON.parse(text)) : undefined);
    const refs = { current: parse(row.current), previous: parse(row.previous) };
    const stamp = `${context.now().getTime().toString(36)}${attempt}`;
    const rewritten = {
      current: refs.current && (await rewriteWithout(context, refs.current, email, stamp, options)),
      previous: refs.previous && (await rewriteWithout(context, refs.previous, email, stamp, options)),
    };
    const entity = {
      partitionKey: exportId,
      rowKey: targetKey,
      current: rewritten.current ? JSON.stringify(rewritten.current) : (row.current ?? ''),
      previous: rewritten.previous ? JSON.stringify(rewritten.previous) : (row.previous ?? ''),
    };
    if ((await replaceEntityIfUnchanged(table, entity, row.etag, { ...options, mode: 'Merge' })) !== undefined) {
      for (const [name, ref] of Object.entries(refs)) {
        const next = rewritten[name as keyof typeof rewritten];
        if (ref && next && next.blob !== ref.blob) await ledgerContainer(context).deleteBlob(ref.blob).catch(() => undefined);
      }
      return;
    }
    for (const next of Object.values(rewritten)) if (next) await ledgerContainer(context).deleteBlob(next.blob).catch(() => undefined);
  }
  throw new Error(`The ledger of ${exportId}/${targetKey} kept changing while an erasure rewrote it`);
}

/** A copy of the snapshot without `email`'s lines; undefined when it has none (nothing to rewrite). */
async function rewriteWithout(context: AppContext, ref: SnapshotRef, email: string, stamp: string, options: OperationOptions): Promise<SnapshotRef | undefined> {
  const source = ledgerContainer(context).getBlobClient(ref.blob);
  const download = await source.download(0, undefined, { abortSignal: options.abortSignal }).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  const body = download?.readableStreamBody;
  if (!body) return undefined;
  const prefix = `${email}\t`;
  const blob = `${ref.blob.replace(/(\.e-[a-z0-9]+)?\.tsv$/, '')}.e-${stamp}.tsv`;
  const writer = new BlobLineWriter(ledgerContainer(context).getBlockBlobClient(blob), 'text/tab-separated-values');
  let dropped = 0;
  try {
    for await (const line of readLines(body)) {
      if (line === '') continue;
      if (line.startsWith(prefix)) dropped++;
      else await writer.write(`${line}\n`);
    }
  } catch (error) {
    writer.abort();
    throw error;
  }
  if (dropped === 0) {
    writer.abort();
    return undefined;
  }
  await writer.close();
  return { ...ref, blob, ...(ref.members === undefined ? {} : { members: Math.max(0, ref.members - dropped) }) };
}
