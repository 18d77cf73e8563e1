import { Errors, type RequestError } from '../../errors.js';

/**
 * TEI's truncation_direction Left, refused alike on HTTP and gRPC rather than cut from the right: the tokenizer
 * threads cut from the right, and an input cut from the left would need its own cache keys and tokenization.
 */
export function leftTruncationRefused(): RequestError {
  return Errors.InputInvalid(
    'truncation_direction: Left is not supported by this server, which cuts inputs from the right; send Right or leave it out',
  );
}
