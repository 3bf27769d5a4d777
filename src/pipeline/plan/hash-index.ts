// An open-addressing hash table from 64-bit keys to a number and a byte of flags, in typed arrays:
// a million members take about 34 MB and no per-member objects, so the planner's memory stays
// bounded and the garbage collector has nothing to walk.
import type { Hash64 } from './hash';

export class HashIndex {
  private capacity: number;
  private hi: Uint32Array;
  private lo: Uint32Array;
  private values: Float64Array;
  private flags: Uint8Array;
  private used: Uint8Array;
  size = 0;

  constructor(expectedSize = 1024) {
    this.capacity = HashIndex.capacityFor(expectedSize);
    this.hi = new Uint32Array(this.capacity);
    this.lo = new Uint32Array(this.capacity);
    this.values = new Float64Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
    this.used = new Uint8Array(this.capacity);
  }

  private static capacityFor(size: number): number {
    let capacity = 1024;
    while (capacity < size * 2) capacity *= 2;
    return capacity;
  }

  /** The slot of `key`, or -1. */
  find(key: Hash64): number {
    const mask = this.capacity - 1;
    let slot = (key.lo ^ Math.imul(key.hi, 0x9e3779b1)) & mask;
    while (this.used[slot] === 1) {
      if (this.lo[slot] === key.lo && this.hi[slot] === key.hi) return slot;
      slot = (slot + 1) & mask;
    }
    return -1;
  }

  /** Inserts or replaces; returns the slot. */
  set(key: Hash64, value: number, flags = 0): number {
    if ((this.size + 1) * 2 > this.capacity) this.grow();
    const mask = this.capacity - 1;
    let slot = (key.lo ^ Math.imul(key.hi, 0x9e3779b1)) & mask;
    while (this.used[slot] === 1) {
      if (this.lo[slot] === key.lo && this.hi[slot] === key.hi) {
        this.values[slot] = value;
        this.flags[slot] = flags;
        return slot;
      }
      slot = (slot + 1) & mask;
    }
    this.used[slot] = 1;
    this.hi[slot] = key.hi;
    this.lo[slot] = key.lo;
    this.values[slot] = value;
    this.flags[slot] = flags;
    this.size += 1;
    return slot;
  }

  valueAt(slot: number): number {
    return this.values[slot]!;
  }

  flagsAt(slot: number): number {
    return this.flags[slot]!;
  }

  addFlags(slot: number, flags: number): void {
    this.flags[slot] = (this.flags[slot] ?? 0) | flags;
  }

  /** Calls `visit` with every key. */
  forEachKey(visit: (key: Hash64) => void): void {
    for (let slot = 0; slot < this.capacity; slot++) if (this.used[slot] === 1) visit({ hi: this.hi[slot]!, lo: this.lo[slot]! });
  }

  /** How many entries have every flag of `all` and none of `none`. */
  countFlags(all: number, none = 0): number {
    let count = 0;
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.used[slot] !== 1) continue;
      const flags = this.flags[slot]!;
      if ((flags & all) === all && (flags & none) === 0) count++;
    }
    return count;
  }

  private grow(): void {
    const old = { hi: this.hi, lo: this.lo, values: this.values, flags: this.flags, used: this.used, capacity: this.capacity };
    this.capacity *= 2;
    this.hi = new Uint32Array(this.capacity);
    this.lo = new Uint32Array(this.capacity);
    this.values = new Float64Array(this.capacity);
    this.flags = new Uint8Array(this.capacity);
    this.used = new Uint8Array(this.capacity);
    this.size = 0;
    for (let slot = 0; slot < old.capacity; slot++) {
      if (old.used[slot] === 1) this.set({ hi: old.hi[slot]!, lo: old.lo[slot]! }, old.values[slot]!, old.flags[slot]);
    }
  }
}
