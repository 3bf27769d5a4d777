// A set of 64-bit keys, each with a 32-bit number, for a table whose largest size is known up
// front (an upload's profile keys, at most `SEGMENT_MAX_RECORDS`): 12 bytes a slot, allocated once
// for that size and never grown. Pages the table never touches cost nothing (the arrays start as
// untouched zero pages), and one large allocation goes back to the system whole when the table is
// collected, where many small growing ones would leave the process's heap fragmented.
import type { Hash64 } from './hash';

const MAX_LOAD = 0.75;
const TWO_TO_32 = 4294967296;

export class KeyTable {
  private readonly capacity: number;
  private readonly scale: number;
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  /** The value plus one: 0 marks an empty slot. */
  private readonly values: Uint32Array;
  size = 0;

  /** A table for up to `maxSize` keys (values below 2^32 - 1). */
  constructor(readonly maxSize: number) {
    this.capacity = Math.max(16, Math.ceil(maxSize / MAX_LOAD));
    this.scale = this.capacity / TWO_TO_32;
    this.hi = new Uint32Array(this.capacity);
    this.lo = new Uint32Array(this.capacity);
    this.values = new Uint32Array(this.capacity);
  }

  /** The value of `key`, or undefined. */
  get(key: Hash64): number | undefined {
    const slot = this.slotOf(key);
    const stored = this.values[slot]!;
    return stored === 0 ? undefined : stored - 1;
  }

  /** Inserts or replaces; throws `RangeError` past `maxSize` keys (the caller's limit comes first). */
  set(key: Hash64, value: number): void {
    const slot = this.slotOf(key);
    if (this.values[slot] === 0) {
      if (this.size >= this.maxSize) throw new RangeError(`The key table holds at most ${this.maxSize} keys`);
      this.hi[slot] = key.hi;
      this.lo[slot] = key.lo;
      this.size++;
    }
    this.values[slot] = value + 1;
  }

  /** The slot holding `key`, or the empty one where it would go. */
  private slotOf(key: Hash64): number {
    const { capacity, values, hi, lo } = this;
    // h * (capacity / 2^32) < capacity: the exact product is at least capacity / 2^32 below it, far more than its rounding.
    let slot = Math.floor(((key.lo ^ Math.imul(key.hi, 0x9e3779b1)) >>> 0) * this.scale);
    while (values[slot] !== 0 && (lo[slot] !== key.lo || hi[slot] !== key.hi)) slot = slot + 1 === capacity ? 0 : slot + 1;
    return slot;
  }
}
