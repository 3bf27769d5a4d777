export type OmnisendStatus = 'subscribed' | 'unsubscribed' | 'nonSubscribed';

export interface OmnisendContact {
  /** Serial number; the API shows it as a 24-hex-digit `contactID`. */
  serial: number;
  status: OmnisendStatus;
  /** firstName, lastName, address, ... (empty when `retainAttributes` is off). */
  fields: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

const STATUSES: readonly OmnisendStatus[] = ['subscribed', 'unsubscribed', 'nonSubscribed'];
const NO_FIELDS: Record<string, unknown> = Object.freeze({});

/**
 * Contacts by lower-cased email, stored column-wise by serial (one Map entry, one shared email
 * string and a few typed-array cells per contact) so that a million contacts stay near 100 bytes
 * each; tests read them through the read methods of a `Map` (`size`, `get`, `has`, iteration).
 */
export class ContactStore {
  private readonly serials = new Map<string, number>();
  private emails: string[] = [''];
  private statuses = new Uint8Array(1024);
  private createdAt = new Float64Array(1024);
  private updatedAt = new Float64Array(1024);
  private fields: Array<Record<string, unknown> | undefined> = [undefined];

  get size(): number {
    return this.serials.size;
  }

  serialOf(email: string): number | undefined {
    return this.serials.get(email);
  }

  emailOf(serial: number): string {
    return this.emails[serial] ?? '';
  }

  statusOf(serial: number): OmnisendStatus {
    return STATUSES[this.statuses[serial]!]!;
  }

  /** Creates a contact; returns its serial. */
  create(email: string, status: OmnisendStatus, fields: Record<string, unknown> | undefined, now: number): number {
    const serial = this.emails.length;
    if (serial === this.statuses.length) this.grow();
    this.serials.set(email, serial);
    this.emails.push(email);
    this.fields.push(fields);
    this.statuses[serial] = STATUSES.indexOf(status);
    this.createdAt[serial] = now;
    this.updatedAt[serial] = now;
    return serial;
  }

  /** Updates a contact; returns whether its status changed. */
  update(serial: number, status: OmnisendStatus | undefined, fields: Record<string, unknown> | undefined, now: number): boolean {
    let changed = false;
    if (status !== undefined) {
      const code = STATUSES.indexOf(status);
      changed = this.statuses[serial] !== code;
      this.statuses[serial] = code;
    }
    if (fields) this.fields[serial] = { ...this.fields[serial], ...fields };
    this.updatedAt[serial] = now;
    return changed;
  }

  private grow(): void {
    const capacity = this.statuses.length * 2;
    const statuses = new Uint8Array(capacity);
    const createdAt = new Float64Array(capacity);
    const updatedAt = new Float64Array(capacity);
    statuses.set(this.statuses);
    createdAt.set(this.createdAt);
    updatedAt.set(this.updatedAt);
    this.statuses = statuses;
    this.createdAt = createdAt;
    this.updatedAt = updatedAt;
  }

  private view(serial: number): OmnisendContact {
    return {
      serial,
      status: this.statusOf(serial),
      fields: this.fields[serial] ?? NO_FIELDS,
      createdAt: this.createdAt[serial]!,
      updatedAt: this.updatedAt[serial]!,
    };
  }

  get(email: string): OmnisendContact | undefined {
    const serial = this.serials.get(email);
    return serial === undefined ? undefined : this.view(serial);
  }

  has(email: string): boolean {
    return this.serials.has(email);
  }

  *entries(): IterableIterator<[string, OmnisendContact]> {
    for (const [email, serial] of this.serials) yield [email, this.view(serial)];
  }

  keys(): IterableIterator<string> {
    return this.serials.keys();
  }

  *values(): IterableIterator<OmnisendContact> {
    for (const serial of this.serials.values()) yield this.view(serial);
  }

  [Symbol.iterator](): IterableIterator<[string, OmnisendContact]> {
    return this.entries();
  }

  forEach(callback: (value: OmnisendContact, key: string) => void): void {
    for (const [email, contact] of this.entries()) callback(contact, email);
  }

  clear(): void {
    this.serials.clear();
    this.emails = [''];
    this.fields = [undefined];
    this.statuses.fill(0);
  }
}

/** Tag -> the serials of its contacts; reads as emails. */
export class TagStore {
  private readonly tags = new Map<string, Set<number>>();

  constructor(private readonly contacts: ContactStore) {}

  add(tag: string, serial: number): void {
    let members = this.tags.get(tag);
    if (!members) {
      members = new Set();
      this.tags.set(tag, members);
    }
    members.add(serial);
  }

  remove(tag: string, serial: number): void {
    this.tags.get(tag)?.delete(serial);
  }

  /** Lower-cased emails of the tag's contacts. */
  members(tag: string): string[] {
    return [...(this.tags.get(tag) ?? [])].map((serial) => this.contacts.emailOf(serial));
  }

  serials(tag: string): ReadonlySet<number> {
    return this.tags.get(tag) ?? new Set();
  }

  tagsOf(serial: number): string[] {
    const tags: string[] = [];
    for (const [tag, members] of this.tags) if (members.has(serial)) tags.push(tag);
    return tags;
  }

  has(tag: string, email: string): boolean {
    const serial = this.contacts.serialOf(email);
    return serial !== undefined && (this.tags.get(tag)?.has(serial) ?? false);
  }

  sizes(): Array<{ tag: string; memberCount: number }> {
    return [...this.tags].map(([tag, members]) => ({ tag, memberCount: members.size }));
  }

  get size(): number {
    return this.tags.size;
  }

  clear(): void {
    this.tags.clear();
  }
}
