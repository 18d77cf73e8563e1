/** A finished answer for one exact request body: the response body's bytes and what it cost to look up. */
export interface MemoizedAnswer {
  readonly modelId: string;
  readonly body: Buffer;
  /** Distinct texts of the request, counted as in-memory cache hits when the answer is served. */
  readonly distinctTexts: number;
  /** Insertion number, for the cheap recency below. */
  stamp: number;
}

export interface ResponseMemoOptions {
  readonly maxEntries: number;
  /** Bound on the bytes of request bodies, answers and a per-entry overhead together. */
  readonly maxBytes: number;
  /** Larger request bodies are neither looked up nor kept: the key costs a copy of the body. */
  readonly maxBodyBytes: number;
}

/** Map entry, answer object and Buffer headers, roughly. */
const ENTRY_OVERHEAD_BYTES = 160;

/**
 * Answers by exact request body, in front of parsing: the same bytes for the same model always get the same
 * answer, because a text's prediction never changes per model id. Only answers whose every text was already
 * cached enter (so they are exactly what the cache would have given); a body that did not validate never
 * does. Bounded by entries and bytes. Keys are the body's bytes as a latin1 string (one char per byte, so
 * distinct bytes are distinct keys, and V8 stores it at one byte per char).
 *
 * Eviction is in insertion order, and a hit moves its entry to the young end only once it is in the older
 * half: an LRU for the bodies that matter, without a delete and an insert on every hit.
 */
export class ResponseMemo {
  private readonly map = new Map<string, MemoizedAnswer>();
  private bytes = 0;
  private inserted = 0;

  constructor(private readonly options: ResponseMemoOptions) {}

  get size(): number {
    return this.map.size;
  }

  /** Bytes held, as counted against maxBytes. */
  get byteSize(): number {
    return this.bytes;
  }

  /**
   * The key of a request body under a route's scope (inference-route.ts' memoScope), or undefined when the body
   * is too large to memoize. bulk-predict's scope is empty; the others start with a NUL, which no body that
   * validated (JSON) does, so no two routes share a key.
   */
  keyOf(body: Buffer, scope: string): string | undefined {
    return body.length <= this.options.maxBodyBytes ? scope + body.toString('latin1') : undefined;
  }

  get(modelId: string, key: string): MemoizedAnswer | undefined {
    const answer = this.map.get(key);
    if (answer === undefined || answer.modelId !== modelId) return undefined;
    if (this.inserted - answer.stamp > this.options.maxEntries >>> 1) {
      this.map.delete(key);
      answer.stamp = ++this.inserted;
      this.map.set(key, answer);
    }
    return answer;
  }

  set(modelId: string, key: string, body: string, distinctTexts: number): void {
    const length = Buffer.byteLength(body);
    const size = entryBytes(key, length);
    if (this.options.maxEntries === 0 || size > this.options.maxBytes) return;
    this.delete(key);
    // Unpooled, so an entry holds its own bytes and not a share of an 8 KiB pool slab.
    const bytes = Buffer.allocUnsafeSlow(length);
    bytes.write(body);
    this.map.set(key, { modelId, body: bytes, distinctTexts, stamp: ++this.inserted });
    this.bytes += size;
    while (this.map.size > this.options.maxEntries || this.bytes > this.options.maxBytes) {
      this.delete(this.map.keys().next().value as string);
    }
  }

  private delete(key: string): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.bytes -= entryBytes(key, old.body.length);
  }
}

function entryBytes(key: string, answerBytes: number): number {
  return key.length + answerBytes + ENTRY_OVERHEAD_BYTES;
}
