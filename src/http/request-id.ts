import { randomBytes } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const COUNTER_SPAN = 2 ** 32;

/**
 * Request ids in UUID v4 form, the shape logs and clients already expect: 88 random bits per process (drawn
 * again whenever the 32-bit counter in the last 8 hex digits wraps) and the counter. Unique within the
 * process, and across processes but for a 2^-88 chance. About 100 ns where randomUUID() took 250 (it
 * refills entropy and formats 16 bytes per call), on a cached answer's budget of ~10 µs. Not secrets:
 * nothing may rely on a request id being unpredictable.
 */
export function createRequestIds(): () => string {
  let prefix = '';
  let counter = 0;
  const reseed = (): void => {
    const r = randomBytes(16);
    const hex = r.toString('hex');
    prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[r[8] & 3]}${hex.slice(17, 20)}-${hex.slice(20, 24)}`;
    counter = r.readUInt32BE(12);
  };
  reseed();
  return () => {
    if (++counter === COUNTER_SPAN) reseed();
    const c = counter;
    return prefix + HEX[c >>> 24] + HEX[(c >>> 16) & 255] + HEX[(c >>> 8) & 255] + HEX[c & 255];
  };
}

/** What a client may send as its request id: echoed in headers and logs, so no CR, LF or space, and bounded. */
const CLIENT_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** The client's x-request-id when it is a usable one, else a new id. */
export function requestIdOf(header: string, next: () => string): string {
  return header !== '' && CLIENT_REQUEST_ID.test(header) ? header : next();
}
