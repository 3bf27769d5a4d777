// The destination targets of an export: one Iterable list or Omnisend tag per segment, named after
// it, or the one Brevo list that receives the union of the export's segments. Preparing a target
// asks the provider (Iterable: find or create the list; Brevo: check the list), through the governor.
import type { OperationOptions } from '../../app/operation';
import type { Export } from '../../domain/export';
import type { ProviderName, TargetSpec } from '../../domain/provider';
import type { Segment } from '../../domain/segment';
import { Errors } from '../../errors';
import { BUCKETS } from '../../providers/limits';
import type { ProviderAccount } from '../accounts';
import { takePaced } from '../pacing';
import type { RateGovernor } from '../../providers/governor';
import type { PlannedTarget } from './chunker';
import type { LedgerTarget } from './ledger';
import { hash53 } from '../../hashing/hash';

export interface TargetPlan extends PlannedTarget {
  /** Undefined for a retired target (its provider target comes from the ledger). */
  spec?: TargetSpec;
  /** The segments that feed this target, in the export's order; none for a retired target. */
  segmentIds: string[];
  /**
   * A target the export no longer feeds (its segment was renamed or taken out, its Brevo list
   * changed, the export is being deleted with its members): every member the export added goes.
   */
  retired?: boolean;
  /** A cleanup run: only removals are planned here; members are neither added nor updated. */
  removalsOnly?: boolean;
}

export type TargetSpecPlan = Omit<TargetPlan, 'target'> & { spec: TargetSpec };

/** The targets the ledger knows that the export no longer feeds, with the provider target to empty. */
export function retiredTargets(known: readonly LedgerTarget[], current: readonly { key: string }[]): TargetPlan[] {
  const feeding = new Set(current.map((target) => target.key));
  return known.flatMap(({ targetKey, target }) => (feeding.has(targetKey) || !target ? [] : [{ key: targetKey, target, segmentIds: [], retired: true }]));
}

export function targetSpecs(exp: Export, provider: ProviderName, segments: ReadonlyMap<string, Segment>): TargetSpecPlan[] {
  if (provider === 'brevo') {
    const listId = exp.options.listId;
    if (listId === undefined) throw Errors.validationFailed('export (a Brevo export needs options.listId)');
    return [{ key: `brevo-${listId}`, spec: { provider, listId }, segmentIds: [...exp.segmentIds] }];
  }
  return exp.segmentIds.flatMap((segmentId) => {
    const segment = segments.get(segmentId);
    if (!segment) return [];
    const name = segment.name;
    // Named after the segment: a renamed segment is a new list or tag with its own ledger.
    const key = `${provider}-${segmentId}-${hash53(name).toString(36)}`;
    const spec: TargetSpec = provider === 'iterable' ? { provider, listName: name } : { provider, tag: name };
    return [{ key, spec, segmentIds: [segmentId] }];
  });
}

/** The requests `prepareTarget` makes (Iterable: list lookup and maybe creation; Brevo: the list check). */
const PREPARE_COST: Record<ProviderName, { bucket: string; count: number } | undefined> = {
  iterable: { bucket: BUCKETS.iterable.api, count: 2 },
  brevo: { bucket: BUCKETS.brevo.contacts, count: 1 },
  omnisend: undefined,
};

export async function prepareTargets(
  account: ProviderAccount,
  governor: RateGovernor,
  specs: readonly TargetSpecPlan[],
  options: OperationOptions = {},
): Promise<TargetPlan[]> {
  const { abortSignal } = options;
  const { adapter, governorAccount } = account;
  const cost = PREPARE_COST[adapter.provider];
  const plans: TargetPlan[] = [];
  for (const spec of specs) {
    // The planner runs long anyway: it waits for its tokens in place rather than re-enqueueing.
    if (cost) await takePaced(governor, governorAccount, cost.bucket, { count: cost.count, maxPacedWaitMs: Number.POSITIVE_INFINITY, abortSignal });
    plans.push({ ...spec, target: await adapter.prepareTarget(spec.spec, { abortSignal }) });
  }
  return plans;
}
