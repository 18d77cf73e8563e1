import { readFileSync } from 'node:fs';
import { Tokenizer, type Encoding } from 'tokenizers';

/**
 * A text's exact model input, as `tokenizers` would give it for the whole text truncated to maxTokens
 * (special tokens included), while a huge text costs about what its first maxTokens tokens cost.
 *
 * The cut: tokenize a prefix of the text and keep it once its first `content` tokens cannot change when the
 * rest of the text follows. They cannot when (1) the token after them starts a later word, so the word of the
 * last kept token ended inside the prefix (the normalizer and pre-tokenizer work per character, and
 * WordPiece per word, so a complete word tokenizes alike in the prefix and the whole text), and (2) that
 * token ends at least `margin` characters before the cut, so no added token (e.g. "[MASK]", matched on the
 * raw text) straddles the cut into the kept tokens. Otherwise the prefix doubles, up to the whole text (a
 * giant word of no spaces is tokenized whole: it is one [UNK] however long, so no prefix settles it).
 * test/tokenizer-truncation.test.ts checks the result against whole-text tokenization on hostile texts.
 *
 * A pair (text, text_pair) is cut by transformers' and TEI's default, longest_first, to maxTokens: each text's
 * tokens come from the same probe (longest_first keeps at most `pairContent` tokens of either text, and its
 * split depends on a long text's length only when both texts are long: then the pair is tokenized whole).
 *
 * encode() runs on libuv's thread pool (the `tokenizers` async API), off the event loop; docs/performance.md
 * ("Answered once") has why it runs on tokenizer threads rather than the main thread's.
 */
export class ExactTokenizer {
  /** Content tokens a text keeps (maxTokens less the special tokens of a single sequence). */
  readonly content: number;
  /** Content tokens a pair keeps between them (maxTokens less the special tokens of the pair template). */
  readonly pairContent: number;
  /** UTF-16 code units handed to the native tokenizer so far: what tokenization cost (tests read it). */
  charsTokenized = 0;
  private readonly margin: number;

  private constructor(
    /** Truncates to maxTokens and adds the special tokens: the final ids. */
    private readonly truncating: Tokenizer,
    /** No truncation, no special tokens: the prefix probe. */
    private readonly probing: Tokenizer,
    readonly maxTokens: number,
    /** First prefix tried, in UTF-16 code units; texts no longer than it are tokenized whole. */
    private readonly firstCut: number,
    specialTokens: number,
    pairSpecialTokens: number,
    addedTokens: readonly string[],
  ) {
    this.content = maxTokens - specialTokens;
    this.pairContent = maxTokens - pairSpecialTokens;
    this.margin = 8 + Math.max(0, ...addedTokens.map((t) => [...t].length));
  }

  /** `firstCut`: tests set it low to exercise the cut on short texts. */
  static async fromFile(path: string, maxTokens: number, firstCut = maxTokens * 8): Promise<ExactTokenizer> {
    const truncating = Tokenizer.fromFile(path);
    truncating.setTruncation(maxTokens);
    truncating.disablePadding();
    const probing = Tokenizer.fromFile(path);
    probing.disableTruncation();
    probing.disablePadding();
    const specialTokens = (await truncating.encode('')).getLength();
    const pairSpecialTokens = (await truncating.encode('', '')).getLength();
    const added = (JSON.parse(readFileSync(path, 'utf8')) as { added_tokens?: { content: string }[] }).added_tokens ?? [];
    return new ExactTokenizer(
      truncating,
      probing,
      maxTokens,
      firstCut,
      specialTokens,
      pairSpecialTokens,
      added.map((t) => t.content),
    );
  }

  /** The text's token ids, special tokens included, at most maxTokens of them. */
  async encode(text: string): Promise<Int32Array> {
    // Texts up to twice the first cut are tokenized whole: probing them could save at most that much.
    for (let cut = this.firstCut; cut * 2 < text.length; cut *= 2) {
      const end = safeCut(text, cut);
      const prefix = text.slice(0, end);
      this.charsTokenized += prefix.length;
      const probe = await this.probing.encode(prefix, null, { addSpecialTokens: false });
      if (this.isStable(probe, prefix)) return Int32Array.from(this.truncating.postProcess(probe, null, true).getIds());
    }
    this.charsTokenized += text.length;
    return Int32Array.from((await this.truncating.encode(text)).getIds());
  }

  /** A pair's ids and type ids, special tokens included, cut longest_first to at most maxTokens. */
  async encodePair(text: string, pair: string): Promise<{ ids: Int32Array; typeIds: Int32Array }> {
    const [a, b] = await Promise.all([this.segment(text), this.segment(pair)]);
    // Both texts longer than the pair keeps: longest_first's split then depends on which is longer, which a
    // prefix's tokens do not tell, and postProcess() splits such a pair unlike encode() (the first text gets the
    // odd token): the pair is tokenized whole, as TEI and transformers tokenize it.
    if (a.encoding.getLength() > this.pairContent && b.encoding.getLength() > this.pairContent) {
      this.charsTokenized += text.length + pair.length;
      const encoding = await this.truncating.encode(text, pair);
      return { ids: Int32Array.from(encoding.getIds()), typeIds: Int32Array.from(encoding.getTypeIds()) };
    }
    const encoding = this.truncating.postProcess(a.encoding, b.encoding, true);
    return { ids: Int32Array.from(encoding.getIds()), typeIds: Int32Array.from(encoding.getTypeIds()) };
  }

  /**
   * TEI's `truncate: false`: the input tokenized whole, and its length. Its ids are those encode() or
   * encodePair() would give when it fits (they cut nothing then); empty when it does not (it is refused).
   */
  async encodeUntruncated(text: string, pair: string | null): Promise<{ ids: Int32Array; typeIds?: Int32Array; length: number }> {
    this.charsTokenized += text.length + (pair?.length ?? 0);
    const encoding = await this.probing.encode(text, pair, { addSpecialTokens: true });
    const length = encoding.getLength();
    if (length > this.maxTokens) return { ids: new Int32Array(0), length };
    const ids = Int32Array.from(encoding.getIds());
    return pair === null ? { ids, length } : { ids, typeIds: Int32Array.from(encoding.getTypeIds()), length };
  }

  /**
   * One text of a pair without special tokens: a settled prefix's tokens (`prefix`: the text has more than
   * `content` tokens, and these are its first ones), else the whole text's.
   */
  private async segment(text: string): Promise<{ encoding: Encoding; prefix: boolean }> {
    for (let cut = this.firstCut; cut * 2 < text.length; cut *= 2) {
      const prefix = text.slice(0, safeCut(text, cut));
      this.charsTokenized += prefix.length;
      const probe = await this.probing.encode(prefix, null, { addSpecialTokens: false });
      if (this.isStable(probe, prefix)) return { encoding: probe, prefix: true };
    }
    return { encoding: await this.whole(text), prefix: false };
  }

  private whole(text: string): Promise<Encoding> {
    this.charsTokenized += text.length;
    return this.probing.encode(text, null, { addSpecialTokens: false });
  }

  /** True when the probe's first `content` tokens are those of any text that starts with `prefix`. */
  private isStable(probe: Encoding, prefix: string): boolean {
    const last = this.content - 1;
    if (probe.getLength() <= this.content) return false;
    const lastWord = probe.tokenToWord(last);
    const nextWord = probe.tokenToWord(this.content);
    if (lastWord === null || nextWord === null || nextWord === lastWord) return false;
    // Offsets count Unicode code points, not UTF-16 units.
    const chars = probe.tokenToChars(last);
    return chars != null && chars[1] + this.margin <= codePoints(prefix);
  }
}

/** A cut at or before `at` that does not split a surrogate pair. */
function safeCut(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}

/** Unicode code points in `text` (what Rust's `chars().count()` counts, and the tokenizer's offsets). */
export function codePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
