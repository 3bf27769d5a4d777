// A map from 64-bit keys to numbers for a table whose size nobody knows up front (an upload's
// profile keys): 256 `HashIndex` shards picked by the key's top byte, each growing on its own, so
// that growing never copies more than 1/256 of the table and never needs twice its memory.
import type { Hash64 } from './hash';
import { HashIndex } from './hash-index';

const SHARDS = 256;

export class ShardedIndex {
  private readonly shards: HashIndex[] = Array.from({ length: SHARDS }, () => new HashIndex(48));

  get size(): number {
    return this.shards.reduce((sum, shard) => sum + shard.size, 0);
  }

  /** The value of `key`, or undefined. */
  get(key: Hash64): number | undefined {
    const shard = this.shards[key.hi >>> 24]!;
    const slot = shard.find(key);
    return slot < 0 ? undefined : shard.valueAt(slot);
  }

  set(key: Hash64, value: number): void {
    this.shards[key.hi >>> 24]!.set(key, value);
  }
}
