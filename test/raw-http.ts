// HTTP/1.1 over a raw socket, for the tests that must send what no HTTP client sends: broken framing, several
// requests in one write, bytes split across packets.
import { connect } from 'node:net';

export interface Exchange {
  /** Everything the server sent, as latin1. */
  text: string;
  /** Whether the server closed the connection within the wait. */
  closed: boolean;
}

/**
 * Writes `parts` on one fresh connection, each in its own TCP packet (a pause between them), then collects
 * what the server sends until it closes the connection or `waitMs` passes.
 */
export function exchange(port: number, parts: readonly (string | Buffer)[], waitMs = 500): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let text = '';
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => {
      closed = true;
      done();
    });
    // A reset after the server closed is a close; before it, a failure of the test's own.
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    socket.on('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 50));
        if (socket.destroyed) break;
        socket.write(part);
      }
      timer = setTimeout(done, waitMs);
    });
  });
}

export interface Response {
  status: number;
  /** The status line's text after the code (RFC 9112 §4: `SP reason-phrase`, possibly empty). */
  reason: string | undefined;
  headers: Map<string, string[]>;
  body: string;
}

/** Splits what a connection received into responses; `bodyless` marks answers to HEAD (no body whatever the length). */
export function responses(text: string, bodyless: readonly boolean[] = []): Response[] {
  const out: Response[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(rest)}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = new Map<string, string[]>();
    for (const line of lines) {
      const name = line.slice(0, line.indexOf(':')).toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(line.indexOf(':') + 1).trim()]);
    }
    const length = bodyless[out.length] ? 0 : Number(headers.get('content-length')?.[0] ?? rest.length - end - 4);
    const status = /^HTTP\/1\.1 (\d{3})( .*)?$/.exec(statusLine!);
    out.push({
      status: Number(status?.[1] ?? Number.NaN),
      reason: status?.[2]?.slice(1),
      headers,
      body: rest.slice(end + 4, end + 4 + length),
    });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

/** A request with `Host` and the given header lines (each ending in CRLF) and body. */
export const request = (method: string, path: string, headers = '', body = ''): string =>
  `${method} ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`;
