// The framework's own ceiling: a uWebSockets.js app that reads each POST body and answers fixed bytes,
// with no parsing, validation, cache or metrics. cached-vs-bare.ts starts it as a separate process.
//
// Env: PORT, HOST (default 127.0.0.1); BARE_BODY_B64, the response body (base64); BARE_HEADERS, a JSON
// array of [name, value] pairs sent after content-type, so the answer has the service's size on the wire.
import { App, us_listen_socket_close, type us_listen_socket } from 'uWebSockets.js';

const body = Buffer.from(process.env.BARE_BODY_B64 ?? '', 'base64');
if (body.length === 0) throw new Error('BARE_BODY_B64 is empty: give the response body, base64-encoded');
const headers = JSON.parse(process.env.BARE_HEADERS ?? '[]') as [string, string][];
const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';

let listenSocket: us_listen_socket | false = false;

App()
  .post('/project/bulk-predict', (res) => {
    // uWS requires an abort handler on every response not answered inside this callback.
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    // The chunks are not kept (the answer does not depend on them), so nothing needs copying; the body is
    // still read to its end, as the service must.
    res.onData((_chunk, isLast) => {
      if (!isLast || aborted) return;
      // Inside a uWS callback, so the writes are corked already.
      res.writeStatus('200 OK').writeHeader('content-type', 'application/json');
      for (const [name, value] of headers) res.writeHeader(name, value);
      res.end(body);
    });
  })
  .get('/project/health', (res) => {
    res.writeHeader('content-type', 'application/json').end('{"status":"ok"}');
  })
  .listen(host, port, (token) => {
    if (!token) {
      process.stderr.write(`bare-server: cannot listen on ${host}:${port}\n`);
      process.exit(1);
    }
    listenSocket = token;
  });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (listenSocket) us_listen_socket_close(listenSocket);
    process.exit(0);
  });
}
