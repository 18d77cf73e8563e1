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
 * The slot of `head + tail` for tails that are ASCII without `{` (a hex digest), at about a third of keySlot's
 * cost on the finished key (a micro-benchmark by hand): the head's CRC is computed once, the tail is read two
 * bytes a step, and the key itself is never read (a new concatenation, which V8 copies flat before its first
 * char can be read). A head that is not ASCII, or has a `{` (a hash tag may start there), leaves every key to
 * keySlot.
 */
export function slotsAfter(head: string): (tail: string) => number {
  if (!/^[\0-\x7a\x7c-\x7f]*$/.test(head)) return (tail) => keySlot(head + tail);
  let headCrc = 0;
  for (let i = 0; i < head.length; i++) headCrc = crcStep(headCrc, head.charCodeAt(i));
  const twoBytes = crcTwoBytesTable();
  return (tail) => {
    let crc = headCrc;
    let i = 0;
    // With a 16-bit register, two bytes shift it out entirely: crc' = table[crc ^ (b0 << 8 | b1)].
    for (; i + 1 < tail.length; i += 2) crc = twoBytes[crc ^ ((tail.charCodeAt(i) << 8) | tail.charCodeAt(i + 1))];
    if (i < tail.length) crc = crcStep(crc, tail.charCodeAt(i));
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
