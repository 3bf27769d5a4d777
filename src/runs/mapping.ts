import type { Mapping } from '../domain/export';
import { MAPPED_FIELDS, type MappedField, type MemberRecord } from '../providers/types';
import { hash53 } from './hash';

/** A segment member's mapped fields: empty values are left out (never sent as blanks). */
export function mapFields(values: Readonly<Record<string, string>>, mapping: Mapping): MemberRecord['fields'] {
  const fields: Partial<Record<MappedField, string>> = {};
  for (const field of MAPPED_FIELDS) {
    const source = mapping[field];
    if (source === undefined) continue;
    const value = values[source]?.trim();
    if (value) fields[field] = value;
  }
  return fields;
}

/** A hash of the mapped fields in a fixed order, to notice a change without keeping the values. */
export function fieldsHash(fields: MemberRecord['fields']): number {
  let text = '';
  for (const field of MAPPED_FIELDS) text += `${fields[field] ?? ''}\u0001`;
  return hash53(text);
}
