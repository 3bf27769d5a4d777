// What an export's mapping makes of a segment member: the provider fields it fills, and a hash of
// them that the ledger keeps to notice a change without keeping the values. Members are read as
// stored rows (values in the order of their version's fields), so the mapping is compiled once per
// version into column numbers: no object per member, and a field named `__proto__` or
// `constructor` is just a column.
import type { Mapping } from '../../domain/export';
import { MAPPED_FIELDS, type MappedField, type MemberRecord } from '../../providers/types';
import { Hash53 } from '../../hashing/hash';

export class MappedColumns {
  /** The email's column, or -1 when the version lacks it. */
  readonly email: number;
  /** Per entry of `MAPPED_FIELDS`, its column, or -1 (not mapped, or not in the version). */
  private readonly columns: Int32Array;

  constructor(mapping: Mapping, fields: readonly string[]) {
    const column = (source: string | undefined) => (source === undefined ? -1 : fields.indexOf(source));
    this.email = column(mapping.email);
    this.columns = Int32Array.from(MAPPED_FIELDS, (field) => column(mapping[field]));
  }

  /** The raw email value of a row (undefined when the version has no such column). */
  emailOf(row: readonly string[]): string | undefined {
    return this.email < 0 ? undefined : (row[this.email] ?? '');
  }

  /** A row's mapped fields: empty values are left out (never sent as blanks). */
  fields(row: readonly string[]): MemberRecord['fields'] {
    const fields: Partial<Record<MappedField, string>> = {};
    for (let i = 0; i < MAPPED_FIELDS.length; i++) {
      const column = this.columns[i]!;
      const value = column < 0 ? undefined : row[column]?.trim();
      if (value) fields[MAPPED_FIELDS[i]!] = value;
    }
    return fields;
  }

  /** `fieldsHash(this.fields(row))`, without building the fields. */
  fieldsHash(row: readonly string[]): number {
    const hash = new Hash53();
    for (let i = 0; i < MAPPED_FIELDS.length; i++) {
      const column = this.columns[i]!;
      hash.add(column < 0 ? '' : (row[column]?.trim() ?? ''));
    }
    return hash.digest();
  }
}

/** A hash of the mapped fields in a fixed order, to notice a change without keeping the values. */
export function fieldsHash(fields: MemberRecord['fields']): number {
  const hash = new Hash53();
  for (const field of MAPPED_FIELDS) hash.add(fields[field] ?? '');
  return hash.digest();
}
