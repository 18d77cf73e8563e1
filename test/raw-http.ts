// HTTP/1.1 over a raw socket, the one such client of the tests, for what no HTTP client sends: broken framing,
// several requests in one write, bytes split across packets, a request on a connection opened long before.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface Exchange {
  /** Everything the server sent, as latin1. */
  text: string;
  /** Whether the server closed the connection within the wait. */
  closed: boolean;
}

/** One connection, kept open: the test writes to it when it chooses and waits for what the server sends. */
export class RawConnection {
  #text = '';
  #closed = false;
  #failure: Error | undefined;
  #waiters = new Set<() => void>();

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      this.#text += chunk.toString('latin1');
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    // A reset after the server closed is a close; before it, a failure of the test's own.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      this.#failure = err;
      this.#wake();
    });
  }

  /** Connects to 127.0.0.1:`port`. */
  static async open(port: number): Promise<RawConnection> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawConnection(socket);
  }

  /** Writes `part` in its own TCP packet (unless the connection is gone). */
  write(part: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(part);
  }

  /**
   * Resolves what the server sent so far once `done(text)` holds, the server closes the connection, or `waitMs`
   * passes, whichever comes first; rejects on a socket error other than a reset.
   */
  until(done: (text: string) => boolean, waitMs: number): Promise<Exchange> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        if (this.#failure !== undefined) reject(this.#failure);
        else if (this.#closed || done(this.#text)) resolve({ text: this.#text, closed: this.#closed });
        else return;
        clearTimeout(timer);
        this.#waiters.delete(settle);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(settle);
        resolve({ text: this.#text, closed: this.#closed });
      }, waitMs);
      this.#waiters.add(settle);
      settle();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/**
 * Writes `parts` on one fresh connection, each in its own TCP packet (a pause between them), then collects
 * what the server sends until it closes the connection, `done(text)` holds, or `waitMs` passes.
 */
export async function exchange(
  port: number,
  parts: readonly (string | Buffer)[],
  waitMs = 500,
  done: (text: string) => boolean = () => false,
): Promise<Exchange> {
  const connection = await RawConnection.open(port);
  try {
    for (const [i, part] of parts.entries()) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      connection.write(part);
    }
    return await connection.until(done, waitMs);
  } finally {
    connection.destroy();
  }
}

export interface Response {
  status: number;
  /** The status line's text after the code (RFC 9112 §4: `SP reason-phrase`, possibly empty). */
  reason: string | undefined;
  headers: Map<string, string[]>;
  body: string;
}

/**
 * The response at the start of `text`, the length it takes there, and whether its body is whole (as many bytes as
 * its Content-Length says; without one, the rest of the text); undefined until its head is complete.
 */
function firstResponse(text: string, bodyless = false): { response: Response; length: number; whole: boolean } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const name = line.slice(0, line.indexOf(':')).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(line.indexOf(':') + 1).trim()]);
  }
  const bodyLength = bodyless ? 0 : Number(headers.get('content-length')?.[0] ?? text.length - end - 4);
  const status = /^HTTP\/1\.1 (\d{3})( .*)?$/.exec(statusLine!);
  const response = {
    status: Number(status?.[1] ?? Number.NaN),
    reason: status?.[2]?.slice(1),
    headers,
    body: text.slice(end + 4, end + 4 + bodyLength),
  };
  return { response, length: end + 4 + bodyLength, whole: text.length >= end + 4 + bodyLength };
}

/** Whether a whole response has arrived: a `done` for exchange() that stops at the first answer. */
export const hasWholeResponse = (text: string): boolean => firstResponse(text)?.whole === true;

/**
 * Splits what a connection received into responses (the last one's body may be cut short); `bodyless` marks
 * answers to HEAD (no body whatever the length).
 */
export function responses(text: string, bodyless: readonly boolean[] = []): Response[] {
  const out: Response[] = [];
  let rest = text;
  while (rest.length > 0) {
    const next = firstResponse(rest, bodyless[out.length]);
    if (next === undefined) throw new Error(`incomplete response: ${JSON.stringify(rest)}`);
    out.push(next.response);
    rest = rest.slice(next.length);
  }
  return out;
}

/** A request with `Host` and the given header lines (each ending in CRLF) and body. */
export const request = (method: string, path: string, headers = '', body = ''): string =>
  `${method} ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`;
