// What an export's mapping makes of a segment member: the provider fields it fills, and a hash of
// them that the ledger keeps to notice a change without keeping the values.
import type { Mapping } from '../../domain/export';
import { MAPPED_FIELDS, type MappedField, type MemberRecord } from '../../providers/types';
import { Hash53 } from '../../hashing/hash';

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
  const hash = new Hash53();
  for (const field of MAPPED_FIELDS) hash.add(fields[field] ?? '');
  return hash.digest();
}

/** `fieldsHash(mapFields(values, mapping))`, without building the fields. */
export function mappedFieldsHash(values: Readonly<Record<string, string>>, mapping: Mapping): number {
  const hash = new Hash53();
  for (const field of MAPPED_FIELDS) {
    const source = mapping[field];
    hash.add(source === undefined ? '' : (values[source]?.trim() ?? ''));
  }
  return hash.digest();
}
