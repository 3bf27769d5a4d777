// Maps and sets that hold millions of entries without stalling the emulator: V8 grows a Map or Set
// by rehashing it whole, which holds the event loop ~170 ms at 2^18 entries, ~320 ms at 2^19 and
// ~440 ms at 2^20. An emulator stalled like that stamps the requests waiting meanwhile late, so its
// rate windows count them later than they were sent, which a provider's servers do not do. Cut
// into shards by key, each rehash is 1/64 of that. Iteration goes shard by shard: not in insertion
// order across shards.
const SHARDS = 64;

function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SHARDS;
}

export class ShardedMap<V> implements Iterable<[string, V]> {
  private readonly shards = Array.from({ length: SHARDS }, () => new Map<string, V>());

  get size(): number {
    return this.shards.reduce((sum, shard) => sum + shard.size, 0);
  }

  get(key: string): V | undefined {
    return this.shards[shardOf(key)]!.get(key);
  }

  has(key: string): boolean {
    return this.shards[shardOf(key)]!.has(key);
  }

  set(key: string, value: V): this {
    this.shards[shardOf(key)]!.set(key, value);
    return this;
  }

  delete(key: string): boolean {
    return this.shards[shardOf(key)]!.delete(key);
  }

  clear(): void {
    for (const shard of this.shards) shard.clear();
  }

  *keys(): IterableIterator<string> {
    for (const shard of this.shards) yield* shard.keys();
  }

  *values(): IterableIterator<V> {
    for (const shard of this.shards) yield* shard.values();
  }

  *[Symbol.iterator](): IterableIterator<[string, V]> {
    for (const shard of this.shards) yield* shard;
  }
}

export class ShardedSet implements Iterable<string> {
  private readonly shards = Array.from({ length: SHARDS }, () => new Set<string>());

  get size(): number {
    return this.shards.reduce((sum, shard) => sum + shard.size, 0);
  }

  has(key: string): boolean {
    return this.shards[shardOf(key)]!.has(key);
  }

  add(key: string): this {
    this.shards[shardOf(key)]!.add(key);
    return this;
  }

  delete(key: string): boolean {
    return this.shards[shardOf(key)]!.delete(key);
  }

  clear(): void {
    for (const shard of this.shards) shard.clear();
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (const shard of this.shards) yield* shard;
  }
}
