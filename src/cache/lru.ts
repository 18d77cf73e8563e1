/**
 * In-process LRU of predictions, bounded by entries and by bytes. A Map keeps insertion order, so the
 * first key is the least recently used once every hit re-inserts its key.
 */
export class LruCache {
  private readonly map = new Map<string, string>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** What the byte bound counts (entryBytes), not V8's exact heap use. */
  get sizeBytes(): number {
    return this.bytes;
  }

  get(key: string): string | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: string, value: string): void {
    if (this.maxEntries === 0) return;
    const size = entryBytes(key, value);
    if (size > this.maxBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.bytes -= entryBytes(key, old);
    }
    this.map.set(key, value);
    this.bytes += size;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const [oldestKey, oldestValue] = this.map.entries().next().value as [string, string];
      this.map.delete(oldestKey);
      this.bytes -= entryBytes(oldestKey, oldestValue);
    }
  }
}

/** UTF-16 string storage plus a rough per-entry overhead of the Map and the string headers. */
function entryBytes(key: string, value: string): number {
  return 2 * (key.length + value.length) + 64;
}
