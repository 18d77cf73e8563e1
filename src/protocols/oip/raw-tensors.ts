// The Open Inference Protocol's raw tensor contents (raw_input_contents, raw_output_contents), as Triton lays them
// out: a tensor's elements flattened row-major, little-endian; a BYTES element is its length (4 bytes,
// little-endian) followed by its bytes.
import { Errors } from '../../errors.js';

const LENGTH_BYTES = 4;

/** A raw BYTES tensor's elements (views of `raw`), or INVALID_ARGUMENT naming `field` when it is cut short. */
export function splitRawBytes(raw: Buffer, field: string): Buffer[] {
  const elements: Buffer[] = [];
  let at = 0;
  while (at < raw.length) {
    if (at + LENGTH_BYTES > raw.length) {
      throw Errors.InvalidInput(`${field}: element ${elements.length} has ${raw.length - at} bytes left for its 4-byte length`);
    }
    const length = raw.readUInt32LE(at);
    at += LENGTH_BYTES;
    if (at + length > raw.length) {
      throw Errors.InvalidInput(`${field}: element ${elements.length} is ${length} bytes long but ${raw.length - at} bytes are left`);
    }
    elements.push(raw.subarray(at, at + length));
    at += length;
  }
  return elements;
}

/** Texts as a raw BYTES tensor. */
export function joinRawBytes(texts: readonly string[]): Buffer {
  const encoded = texts.map((text) => Buffer.from(text, 'utf8'));
  const raw = Buffer.allocUnsafe(encoded.reduce((sum, bytes) => sum + LENGTH_BYTES + bytes.length, 0));
  let at = 0;
  for (const bytes of encoded) {
    at = raw.writeUInt32LE(bytes.length, at);
    at += bytes.copy(raw, at);
  }
  return raw;
}

/** Numbers as a raw FP32 tensor. */
export function rawFp32(values: readonly number[]): Buffer {
  const raw = Buffer.allocUnsafe(values.length * 4);
  values.forEach((value, i) => raw.writeFloatLE(value, i * 4));
  return raw;
}
