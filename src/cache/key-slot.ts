/** CRC16-XMODEM (poly 0x1021), the hash of Redis Cluster's key slots, a byte at a time. */
const CRC16 = new Uint16Array(256);
for (let byte = 0; byte < 256; byte++) {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
  CRC16[byte] = crc & 0xffff;
}

const crcStep = (crc: number, byte: number): number => CRC16[(byte ^ (crc >> 8)) & 0xff] ^ ((crc << 8) & 0xffff);

/**
 * The Redis Cluster hash slot (0–16383) of a key, as Redis computes it (cluster.c keyHashSlot): CRC16 of the key,
 * or only of the hash tag between the first `{` and the first `}` after it when that is not empty. ioredis's
 * cluster-key-slot builds a byte array per key (1.4–2.3 µs a key in a micro-benchmark) and gives `a{}b}c` the
 * wrong slot. The cache's keys are ASCII (a prefix, the model id, a hex digest), where a char is its byte; other
 * keys go through UTF-8.
 */
export function keySlot(key: string): number {
  // One pass for the common key: ASCII without `{`. Anything else takes the general path below.
  let crc = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f || c === 0x7b) return slotOfBytes(isAscii(key) ? key : utf8Bytes(key));
    crc = crcStep(crc, c);
  }
  return crc & 0x3fff;
}

/**
 * keySlot for keys that start with `head` (the cache's `<prefix>::<model id>::`, cache-key.ts), at about 0.4× its
 * cost: the head's CRC is computed once, and the rest (a 64-char hex digest) two bytes a step. The cluster tier
 * asks the slot of every key of every lookup, and per key this was most of its grouping's CPU (~3.7 µs of a
 * 10-text answer, in a profile under bench:cluster). A key without that head, or a head with `{` or non-ASCII
 * chars, gets keySlot.
 */
export function keySlotAfter(head: string): (key: string) => number {
  if (!/^[\0-\x7a\x7c-\x7f]*$/.test(head)) return keySlot;
  let headCrc = 0;
  for (let i = 0; i < head.length; i++) headCrc = crcStep(headCrc, head.charCodeAt(i));
  const twoBytes = crcTwoBytesTable();
  return (key) => {
    if (!key.startsWith(head)) return keySlot(key);
    let crc = headCrc;
    let i = head.length;
    // With a 16-bit register, two bytes shift it out entirely: crc' = table[crc ^ (b0 << 8 | b1)].
    for (; i + 1 < key.length; i += 2) {
      const a = key.charCodeAt(i);
      const b = key.charCodeAt(i + 1);
      if ((a | b) > 0x7f || a === 0x7b || b === 0x7b) return keySlot(key);
      crc = twoBytes[crc ^ ((a << 8) | b)];
    }
    if (i < key.length) {
      const c = key.charCodeAt(i);
      if (c > 0x7f || c === 0x7b) return keySlot(key);
      crc = crcStep(crc, c);
    }
    return crc & 0x3fff;
  };
}

let twoBytesTable: Uint16Array | undefined;

/** CRC16 of every two-byte word from a zero register (128 KiB), made on first use: only a cluster needs it. */
function crcTwoBytesTable(): Uint16Array {
  if (twoBytesTable === undefined) {
    twoBytesTable = new Uint16Array(65536);
    for (let word = 0; word < 65536; word++) twoBytesTable[word] = crcStep(crcStep(0, word >> 8), word & 0xff);
  }
  return twoBytesTable;
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
  for (let i = from; i < to; i++) crc = crcStep(crc, bytes.charCodeAt(i));
  return crc;
}
