// Which fields of a resource changed, with their old and new values: the `changes` of an audit
// entry. A secret field is named with a note, never with a value; a field can be shown through a
// mask (a notification URL by its host) instead of as it is.
import type { AuditChange } from '../domain/audit';

export interface DiffOptions {
  /** Fields that are never compared or shown (bookkeeping: `updatedAt`). */
  ignore?: readonly string[];
  /** Fields shown through this function instead of as they are. */
  mask?: Readonly<Record<string, (value: unknown) => unknown>>;
}

/** The top-level fields whose values differ between `before` and `after` (JSON equality). */
export function changedFields(before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined, options: DiffOptions = {}): AuditChange[] {
  const ignore = new Set(options.ignore ?? []);
  const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].filter((field) => !ignore.has(field)).sort();
  const changes: AuditChange[] = [];
  for (const field of fields) {
    const old = before?.[field];
    const value = after?.[field];
    if (JSON.stringify(old) === JSON.stringify(value)) continue;
    const show = options.mask?.[field] ?? ((shown: unknown) => shown);
    changes.push({ field, ...(old === undefined ? {} : { old: show(old) }), ...(value === undefined ? {} : { new: show(value) }) });
  }
  return changes;
}

/** A secret field that changed: named, with what happened, never with a value. */
export function secretChange(field: string, note: string): AuditChange {
  return { field, note };
}
