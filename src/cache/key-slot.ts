/** CRC16-XMODEM (poly 0x1021), the hash of Redis Cluster's key slots, a byte at a time. */
const CRC16 = new Uint16Array(256);
for (let byte = 0; byte < 256; byte++) {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  CRC16[byte] = crc & 0xffff;
}

/**
 * The Redis Cluster hash slot (0–16383) of a key, as Redis computes it (cluster.c keyHashSlot): CRC16 of the key,
 * or only of the hash tag between the first `{` and the first `}` after it when that is not empty. The cluster
 * tier asks it for every key of every lookup; ioredis's cluster-key-slot builds a byte array per key and took
 * 1.4–2.3 µs a key in a micro-benchmark, about half of a cached answer's extra CPU on a cluster in a profile
 * under bench:cluster (docs/scaling-out.md). The cache's keys are ASCII (a prefix, the model id, a hex digest),
 * where a char is its byte; other keys go through UTF-8.
 */
export function keySlot(key: string): number {
  // One pass for the common key: ASCII without `{`. Anything else takes the general path below.
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f || c === 0x7b) return slotOfBytes(isAscii(key) ? key : utf8Bytes(key));
    crc = CRC16[(c ^ (crc >> 8)) & 0xff] ^ ((crc << 8) & 0xffff);
  }
  return crc & 0x3fff;
}

function isAscii(key: string): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** One char per UTF-8 byte (latin1), so the loop of crc16 reads bytes either way. */
function utf8Bytes(key: string): string {
  return Buffer.from(key, 'utf8').toString('latin1');
}

function slotOfBytes(bytes: string): number {
  const open = bytes.indexOf('{');
  const close = open === -1 ? -1 : bytes.indexOf('}', open + 1);
  return close > open + 1 ? crc16(bytes, open + 1, close) & 0x3fff : crc16(bytes, 0, bytes.length) & 0x3fff;
}

function crc16(bytes: string, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = CRC16[(bytes.charCodeAt(i) ^ (crc >> 8)) & 0xff] ^ ((crc << 8) & 0xffff);
  return crc;
}
