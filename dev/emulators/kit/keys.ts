interface KeyEntry {
  keyId: string;
  active: boolean;
}

/**
 * The API keys an emulator accepts. Everything printed or recorded names a key by its `keyId`
 * (`key1`, `key2`, ...), never by the key itself.
 */
export class KeyRing {
  private readonly entries = new Map<string, KeyEntry>();
  private count = 0;

  constructor(keys: readonly string[]) {
    for (const key of keys) this.add(key);
  }

  /** Accepts the key (again, when it was revoked) and returns its id. */
  add(key: string): string {
    if (key.length === 0) throw new Error('An API key cannot be empty');
    const existing = this.entries.get(key);
    if (existing) {
      existing.active = true;
      return existing.keyId;
    }
    this.count += 1;
    const keyId = `key${this.count}`;
    this.entries.set(key, { keyId, active: true });
    return keyId;
  }

  revoke(key: string): void {
    const entry = this.entries.get(key);
    if (entry) entry.active = false;
  }

  /** The keyId of an accepted key, undefined for a wrong or revoked one. */
  accept(key: string | undefined): string | undefined {
    if (key === undefined) return undefined;
    const entry = this.entries.get(key);
    return entry?.active ? entry.keyId : undefined;
  }

  keyIdOf(key: string): string | undefined {
    return this.entries.get(key)?.keyId;
  }

  /** A small integer per keyId, for compact per-request records. */
  static indexOf(keyId: string): number {
    const index = Number(keyId.slice(3));
    return Number.isInteger(index) ? index : 0;
  }

  activeKeys(): string[] {
    return [...this.entries].filter(([, entry]) => entry.active).map(([key]) => key);
  }
}
