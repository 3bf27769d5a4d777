// An open-addressing hash table from 64-bit keys to a number, seven bits of flags and a byte tag,
// in typed arrays: 18 bytes a slot at most 3/4 full (about 24 bytes an entry, ten million entries
// in ~240 MB), no per-entry objects, so the planner's memory stays bounded and the garbage
// collector has nothing to walk. The capacity is any multiple of 16 (not a power of two): a table
// sized for its entries up front is never copied, and one that grows grows by half.
import type { Hash64 } from './hash';

/** The slot holds an entry (flags are the low seven bits). */
const USED = 0x80;
const FLAG_BITS = 0x7f;
const MAX_LOAD = 0.75;
const GROWTH = 1.5;
const TWO_TO_32 = 4294967296;

export class HashIndex {
  private capacity: number;
  /** capacity / 2^32: a 32-bit hash times this is its slot (a multiply, not a modulo). */
  private scale: number;
  private limit: number;
  private hi: Uint32Array;
  private lo: Uint32Array;
  private values: Float64Array;
  private flags: Uint8Array;
  private tags: Uint8Array;
  size = 0;

  /** A table for `expectedSize` entries that needs no growth until it holds more. */
  constructor(expectedSize = 1024) {
    this.capacity = HashIndex.capacityFor(expectedSize);
    this.scale = this.capacity / TWO_TO_32;
    this.limit = Math.floor(this.capacity * MAX_LOAD);
    this.hi = new Uint32Array(this.capacity);
    this.lo = new Uint32Array(this.capacity);
    this.values = new Float64Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
    this.tags = new Uint8Array(this.capacity);
  }

  private static capacityFor(size: number): number {
    return Math.max(16, Math.ceil(Math.max(0, size) / MAX_LOAD / 16) * 16);
  }

  /** How many entries fit before the table grows. */
  get room(): number {
    return this.limit;
  }

  private home(key: Hash64): number {
    // h * (capacity / 2^32) < capacity: the exact product is at least capacity / 2^32 below it, far more than its rounding.
    return Math.floor(((key.lo ^ Math.imul(key.hi, 0x9e3779b1)) >>> 0) * this.scale);
  }

  /** The slot of `key`, or -1. */
  find(key: Hash64): number {
    const { capacity, flags, lo, hi } = this;
    let slot = this.home(key);
    while ((flags[slot]! & USED) !== 0) {
      if (lo[slot] === key.lo && hi[slot] === key.hi) return slot;
      slot = slot + 1 === capacity ? 0 : slot + 1;
    }
    return -1;
  }

  /** Inserts or replaces (the tag of a replaced entry stays); returns the slot. */
  set(key: Hash64, value: number, flags = 0): number {
    if (this.size + 1 > this.limit) this.grow();
    const capacity = this.capacity;
    let slot = this.home(key);
    while ((this.flags[slot]! & USED) !== 0) {
      if (this.lo[slot] === key.lo && this.hi[slot] === key.hi) {
        this.values[slot] = value;
        this.flags[slot] = USED | (flags & FLAG_BITS);
        return slot;
      }
      slot = slot + 1 === capacity ? 0 : slot + 1;
    }
    this.hi[slot] = key.hi;
    this.lo[slot] = key.lo;
    this.values[slot] = value;
    this.flags[slot] = USED | (flags & FLAG_BITS);
    this.size += 1;
    return slot;
  }

  valueAt(slot: number): number {
    return this.values[slot]!;
  }

  flagsAt(slot: number): number {
    return this.flags[slot]! & FLAG_BITS;
  }

  addFlags(slot: number, flags: number): void {
    this.flags[slot] = this.flags[slot]! | (flags & FLAG_BITS);
  }

  /** A byte of the caller's (0 until set), kept with the entry. */
  tagAt(slot: number): number {
    return this.tags[slot]!;
  }

  setTag(slot: number, tag: number): void {
    this.tags[slot] = tag;
  }

  /** Calls `visit` with every key. */
  forEachKey(visit: (key: Hash64) => void): void {
    for (let slot = 0; slot < this.capacity; slot++) if ((this.flags[slot]! & USED) !== 0) visit({ hi: this.hi[slot]!, lo: this.lo[slot]! });
  }

  /** How many entries have every flag of `all` and none of `none`. */
  countFlags(all: number, none = 0): number {
    let count = 0;
    for (let slot = 0; slot < this.capacity; slot++) {
      const flags = this.flags[slot]!;
      if ((flags & USED) !== 0 && (flags & all) === all && (flags & none) === 0) count++;
    }
    return count;
  }

  private grow(): void {
    const old = { hi: this.hi, lo: this.lo, values: this.values, flags: this.flags, tags: this.tags, capacity: this.capacity };
    this.capacity = HashIndex.capacityFor(Math.ceil(this.size * GROWTH));
    this.scale = this.capacity / TWO_TO_32;
    this.limit = Math.floor(this.capacity * MAX_LOAD);
    this.hi = new Uint32Array(this.capacity);
    this.lo = new Uint32Array(this.capacity);
    this.values = new Float64Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
    this.tags = new Uint8Array(this.capacity);
    this.size = 0;
    for (let slot = 0; slot < old.capacity; slot++) {
      if ((old.flags[slot]! & USED) === 0) continue;
      const moved = this.set({ hi: old.hi[slot]!, lo: old.lo[slot]! }, old.values[slot]!, old.flags[slot]);
      this.tags[moved] = old.tags[slot]!;
    }
  }
}
