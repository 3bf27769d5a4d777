// Data-subject erasure, as queued work (the `erasure` queue function). Starting one suppresses the
// person at once (every run planned from then on leaves them out) and queues the erasure. Each pass
// then goes through the exports: one with a run in progress waits (that run may have planned to add
// the person before the suppression), otherwise every target whose ledger holds the person (added by
// that export, never a foreign member) loses them — list/tag removal, or the provider's delete with
// `deleteAtProvider` — and its ledger forgets them. A pass during which a run of the export started
// goes again. When every export is done the stored rejects lose the person too, and the erasure
// forgets the address; it keeps the status of each target.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../../app/context';
import { withSpan } from '../../app/telemetry';
import { isErasureEnded, type ErasureDoc, type ErasureStatus, type ErasureTarget } from '../../domain/privacy';
import { isTerminal } from '../../domain/run';
import { Errors, isAppError } from '../../errors';
import { getExport, listExports, type StoredExport } from '../../exports/repository';
import { createErasureRow, getErasure, replaceErasure } from '../../privacy/erasures';
import { addSuppression } from '../../privacy/suppressions';
import { requireProviderAccount, type ProviderAccount } from '../accounts';
import { dropFromLedger, ledgerHolds, listLedgerTargets, type LedgerTarget } from '../plan/ledger';
import { enqueueErasure } from '../queues';
import { scrubRejects } from '../store/rejects';
import { getRunDoc } from '../store/runs-table';
import { deleteAtProvider, removeFromTarget, type TargetOutcome } from './provider-actions';

/** How long an erasure waits for exports whose runs keep going before it gives up on them. */
export const ERASURE_MAX_WAIT_IN_MS = 24 * 3_600_000;
const DEFAULT_RETRY_IN_MS = 30_000;
const OMNISEND_NO_DELETE = 'Omnisend documents no API to delete a contact: removed from the tag only';

export interface StartErasureOptions {
  email: string;
  deleteAtProvider: boolean;
  requestedBy: { userId: string; name: string };
}

/** Suppresses the person and queues the erasure; `email` is already normalised. */
export async function startErasure(context: AppContext, options: StartErasureOptions): Promise<ErasureDoc> {
  const erasureId = `er-${context.now().getTime().toString(36)}-${randomBytes(5).toString('hex')}`;
  await addSuppression(context, options.email, erasureId);
  const doc: ErasureDoc = {
    erasureId,
    status: 'queued',
    deleteAtProvider: options.deleteAtProvider,
    email: options.email,
    requestedBy: options.requestedBy,
    createdAt: context.now().toISOString(),
    exports: {},
    targets: [],
    deletedAt: [],
    rejectsScrubbed: false,
  };
  await createErasureRow(context, doc);
  await enqueueErasure(context, { erasureId });
  context.log.info('erasure started', { erasureId, deleteAtProvider: options.deleteAtProvider });
  return doc;
}

/** One pass of an erasure (the queue function); it queues the next pass while exports wait. */
export async function processErasure(context: AppContext, erasureId: string): Promise<void> {
  const stored = await getErasure(context, erasureId);
  if (!stored || isErasureEnded(stored.doc.status) || !stored.doc.email) return;
  const email = stored.doc.email;
  await withSpan('erasure.pass', {}, async () => {
    const doc = structuredClone(stored.doc);
    doc.status = 'running';
    if (Object.keys(doc.exports).length === 0) for await (const exp of listExports(context)) doc.exports[exp.export.id] = 'pending';
    for (const [exportId, state] of Object.entries(doc.exports)) {
      if (state === 'pending') doc.exports[exportId] = await eraseFromExport(context, doc, exportId, email);
    }
    const waiting = Object.values(doc.exports).includes('pending');
    const overdue = context.now().getTime() - Date.parse(doc.createdAt) > ERASURE_MAX_WAIT_IN_MS;
    if (waiting && !overdue) {
      if (await replaceErasure(context, stored, doc)) await enqueueErasure(context, { erasureId }, context.tuning.erasureRetryDelayMs ?? DEFAULT_RETRY_IN_MS);
      return;
    }
    if (!doc.rejectsScrubbed) {
      await scrubRejects(context, email);
      doc.rejectsScrubbed = true;
    }
    const finished = finish(context, doc, waiting);
    if (!(await replaceErasure(context, stored, finished))) await enqueueErasure(context, { erasureId }, 1_000);
    else context.log.info('erasure ended', { erasureId, status: finished.status, targets: finished.targets.length });
  });
}

function finish(context: AppContext, doc: ErasureDoc, gaveUp: boolean): ErasureDoc {
  const targets = doc.targets.map((target): ErasureTarget =>
    target.status === 'pending' ? { ...target, status: 'failed', detail: target.detail ?? 'gave up' } : target,
  );
  const failed = targets.filter((target) => target.status === 'failed').length;
  let status: ErasureStatus = failed === 0 ? 'succeeded' : failed === targets.length ? 'failed' : 'partially_succeeded';
  if (gaveUp) status = targets.length > failed ? 'partially_succeeded' : 'failed';
  const { email: _email, ...rest } = doc;
  return { ...rest, status, targets, finishedAt: context.now().toISOString() };
}

async function activeRun(context: AppContext, stored: StoredExport): Promise<boolean> {
  if (!stored.activeRunId) return false;
  const run = await getRunDoc(context, stored.activeRunId);
  return run !== undefined && !isTerminal(run.value.status);
}

/** One export's part: `done`, or `pending` when a run is (or was meanwhile) in progress or a provider asked to wait. */
async function eraseFromExport(context: AppContext, doc: ErasureDoc, exportId: string, email: string): Promise<'pending' | 'done'> {
  const stored = await getExport(context, exportId);
  if (!stored) return 'done';
  if (await activeRun(context, stored)) return 'pending';
  const held: LedgerTarget[] = [];
  for (const target of await listLedgerTargets(context, exportId)) {
    if (target.target && (await ledgerHolds(context, exportId, target.targetKey, email))) held.push(target);
  }
  let retry = false;
  if (held.length > 0) {
    const account = await requireProviderAccount(context, stored.export.connectionId, { fresh: true }).catch((error: unknown) => {
      if (isAppError(error, Errors.notFound)) return undefined;
      throw error;
    });
    for (const target of held) retry = (await eraseAtTarget(context, doc, stored, account, target, email)) || retry;
  }
  // A run that started (and perhaps ended) during this pass may have read the old ledger: again.
  const after = await getExport(context, exportId);
  return retry || (after !== undefined && after.etag !== stored.etag) ? 'pending' : 'done';
}

/** Acts at one target and records it; true when it must be tried again. */
async function eraseAtTarget(context: AppContext, doc: ErasureDoc, stored: StoredExport, account: ProviderAccount | undefined, held: LedgerTarget, email: string): Promise<boolean> {
  const { export: exp } = stored;
  const previous = doc.targets.find((target) => target.exportId === exp.id && target.targetKey === held.targetKey);
  const outcome: TargetOutcome =
    previous && (previous.status === 'removed' || previous.status === 'deleted')
      ? { status: previous.status, retry: false, detail: previous.detail }
      : account
        ? await act(context, doc, account, held, email)
        : { status: 'failed', retry: false, detail: `the connection '${exp.connectionId}' no longer exists` };
  if (outcome.status === 'removed' || outcome.status === 'deleted') await dropFromLedger(context, exp.id, held.targetKey, email);
  const entry: ErasureTarget = {
    exportId: exp.id,
    connectionId: exp.connectionId,
    provider: account?.connection.provider ?? held.target!.provider,
    targetKey: held.targetKey,
    action: outcome.status === 'deleted' ? 'delete' : 'remove',
    status: outcome.status,
    ...(outcome.detail ? { detail: outcome.detail } : {}),
  };
  doc.targets = [...doc.targets.filter((target) => target !== previous), entry];
  return outcome.retry;
}

async function act(context: AppContext, doc: ErasureDoc, account: ProviderAccount, held: LedgerTarget, email: string): Promise<TargetOutcome> {
  if (doc.deleteAtProvider) {
    if (doc.deletedAt.includes(account.connection.id)) return { status: 'deleted', retry: false };
    const deleted = await deleteAtProvider(context, account, email);
    if (deleted) {
      if (deleted.status === 'deleted') doc.deletedAt.push(account.connection.id);
      return deleted;
    }
  }
  const removed = await removeFromTarget(context, account, held.target!, email);
  return doc.deleteAtProvider && removed.status === 'removed' ? { ...removed, detail: OMNISEND_NO_DELETE } : removed;
}
