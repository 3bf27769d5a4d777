import { MAPPED_FIELDS, type ChunkOperation, type MappedField, type RecordReject } from './types';

/**
 * How chunk sizes are measured, and what each adapter's encoding adds to them.
 *
 * `ChunkLimits.maxBytes` bounds the sum, over a chunk's records, of the UTF-8 length of the
 * record's JSON as the pipeline holds it (`JSON.stringify(record)`: an upsert record with `isNew`,
 * or the email string of a removal): `chunkItemBytes`. Each adapter derives its `maxBytes` from
 * the provider's body limit minus the most its own encoding can add per record, so a chunk within
 * the limits always makes requests within the provider's limits.
 */
export type UpsertRecord = Extract<ChunkOperation, { kind: 'upsert' }>['records'][number];

export function chunkItemBytes(item: UpsertRecord | string): number {
  return Buffer.byteLength(JSON.stringify(item));
}

/** Room kept in every body for everything but the records (list id, flags, notify URL, tag). */
export const ENVELOPE_ALLOWANCE_BYTES = 4_096;

/**
 * The most an encoding makes one upsert record grow, over every combination of mapped fields
 * (values are copied verbatim, so only keys and wrappers differ; two value shapes cover encodings
 * that pick a key by value, like Omnisend's two-letter `countryCode`) and of the record's flags
 * (an encoding may add to a record by its flags, like Omnisend's statuses for unknown contacts).
 */
export function maxUpsertOverheadBytes(encode: (record: UpsertRecord) => unknown): number {
  let worst = Number.NEGATIVE_INFINITY;
  for (let mask = 0; mask < 1 << MAPPED_FIELDS.length; mask += 1) {
    for (const value of ['', 'XX']) {
      const fields: Partial<Record<MappedField, string>> = {};
      MAPPED_FIELDS.forEach((field, index) => {
        if (mask & (1 << index)) fields[field] = value;
      });
      for (const flags of RECORD_FLAGS) {
        const record: UpsertRecord = { email: 'a@b.co', fields, ...flags };
        worst = Math.max(worst, Buffer.byteLength(JSON.stringify(encode(record))) - chunkItemBytes(record));
      }
    }
  }
  return Math.max(0, worst);
}

const RECORD_FLAGS: ReadonlyArray<Pick<UpsertRecord, 'isNew' | 'knownToProvider'>> = [true, false].flatMap((isNew) => [
  { isNew },
  { isNew, knownToProvider: true },
  { isNew, knownToProvider: false },
]);

/** maxBytes for a provider body limit, given the per-record growth of the encoding. */
export function maxChunkBytes(bodyLimitBytes: number, recordsPerBody: number, overheadPerRecordBytes: number): number {
  return bodyLimitBytes - ENVELOPE_ALLOWANCE_BYTES - recordsPerBody * overheadPerRecordBytes;
}

/** Finds our record's email from the provider's spelling of it (providers may lower-case). */
export class EmailIndex {
  private readonly byKey = new Map<string, number>();

  constructor(private readonly emails: readonly string[]) {
    emails.forEach((email, index) => {
      const key = email.trim().toLowerCase();
      if (!this.byKey.has(key)) this.byKey.set(key, index);
    });
  }

  indexOf(providerEmail: string): number | undefined {
    return this.byKey.get(providerEmail.trim().toLowerCase());
  }

  email(providerEmail: string): string | undefined {
    const index = this.indexOf(providerEmail);
    return index === undefined ? undefined : this.emails[index];
  }
}

/** Rejects for the provider's emails that are ours, one per email (first reason wins). */
export function rejectsFor(index: EmailIndex, groups: Array<{ emails: readonly string[]; reason: string }>): RecordReject[] {
  const seen = new Set<string>();
  const rejects: RecordReject[] = [];
  for (const group of groups) {
    for (const providerEmail of group.emails) {
      const email = index.email(providerEmail);
      if (email === undefined || seen.has(email)) continue;
      seen.add(email);
      rejects.push({ email, code: PROVIDER_REJECTED, reason: group.reason });
    }
  }
  return rejects;
}

/** The reject code of a record the provider refused (the run's rejects list shows it). */
export const PROVIDER_REJECTED = 'provider_rejected';
/** A record the provider reported a failure for that it could not name (a batch item without the request): not delivered. */
export const PROVIDER_UNMATCHED = 'provider_unmatched';
/** A record sent without its phone, which could not be made E.164: delivered, with a note (`delivered: true`). */
export const PHONE_DROPPED = 'phone_dropped';
