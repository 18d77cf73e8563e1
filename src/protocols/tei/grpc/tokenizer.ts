import { Tokenizer } from 'tokenizers';
import { Errors } from '../../../errors.js';
import type { DecodeRequest, DecodeResponse, EncodeRequest, EncodeResponse, SimpleToken } from './messages.js';

/**
 * tei.v1.Tokenize's Tokenize and Decode with the model's tokenizer.json, as TEI answers them (core/src/tokenization.rs,
 * router/src/grpc/server.rs): the whole text, never truncated; each token's id, its text (a special token's own
 * text, else the input's characters it covers) and, for a non-special token, its start and stop in code points.
 * One tokenizer for every call; its encode and decode run on libuv's thread pool, off the event loop.
 */
export class TeiTokenizer {
  private constructor(private readonly tokenizer: Tokenizer) {}

  static fromFile(path: string): TeiTokenizer {
    const tokenizer = Tokenizer.fromFile(path);
    // tokenizer.json may carry the model's truncation and padding; TEI tokenizes with neither.
    tokenizer.disableTruncation();
    tokenizer.disablePadding();
    return new TeiTokenizer(tokenizer);
  }

  async tokenize(request: EncodeRequest): Promise<EncodeResponse> {
    if (request.prompt_name !== undefined) throw NO_PROMPTS();
    if (request.inputs === '') throw Errors.InputEmpty();
    const encoding = await this.tokenizer.encode(request.inputs, null, { addSpecialTokens: request.add_special_tokens });
    const ids = encoding.getIds();
    const tokens = encoding.getTokens();
    const offsets = encoding.getOffsets();
    const special = encoding.getSpecialTokensMask();
    const at = codePointStarts(request.inputs);
    return {
      tokens: ids.map((id, i): SimpleToken => {
        if (special[i] === 1) return { id, text: tokens[i], special: true };
        const [start, stop] = offsets[i];
        return { id, text: request.inputs.slice(at[start], at[stop]), special: false, start, stop };
      }),
    };
  }

  /** Unknown ids are skipped, as the tokenizer skips them. */
  async decode(request: DecodeRequest): Promise<DecodeResponse> {
    if (request.ids.length === 0) throw IDS_EMPTY();
    return { text: await this.tokenizer.decode([...request.ids], request.skip_special_tokens) };
  }
}

// TEI's prompts belong to Sentence Transformers embedding models; a classifier has none.
const NO_PROMPTS = () => Errors.InputInvalid('prompt_name: this model has no prompts; leave prompt_name out');
// TEI's message, word for word.
const IDS_EMPTY = () => Errors.InputInvalid('`input_ids` cannot be empty');

/** Each code point's start in UTF-16 units, and the text's length last: the tokenizer's offsets count code points. */
function codePointStarts(text: string): Uint32Array {
  const starts = new Uint32Array(text.length + 1);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    starts[n++] = i;
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
  }
  starts[n] = text.length;
  return starts.subarray(0, n + 1);
}
