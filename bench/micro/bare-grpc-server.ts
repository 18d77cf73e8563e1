// The floor of any gRPC server written on node:http2 (which grpc-js is): unary calls of
// inference.GRPCInferenceService answered with one fixed ModelInfer response, with no message parsing, no
// grpc-js and no service behind it. grpc-floor.ts starts it as a separate process.
//
// Env: GRPC_PORT (the gRPC listener), PORT and HOST (an HTTP/1.1 /health, so the harness can wait for it);
// BARE_RESPONSE_B64, the serialized ModelInferResponse (base64).
import { createServer as createHttp1Server } from 'node:http';
import { createServer } from 'node:http2';

const message = Buffer.from(process.env.BARE_RESPONSE_B64 ?? '', 'base64');
if (message.length === 0) throw new Error('BARE_RESPONSE_B64 is empty: give the serialized response, base64-encoded');
// The gRPC frame: not compressed, the message's length (big-endian), the message.
const frame = Buffer.allocUnsafe(5 + message.length);
frame[0] = 0;
frame.writeUInt32BE(message.length, 1);
message.copy(frame, 5);
const host = process.env.HOST ?? '127.0.0.1';

const grpc = createServer();
grpc.on('stream', (stream) => {
  // The request is read to its end, as a server must, and not parsed.
  stream.on('data', () => {});
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(frame);
  });
});
grpc.listen(Number(process.env.GRPC_PORT), host);

const health = createHttp1Server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
health.listen(Number(process.env.PORT ?? 0), host);

process.on('SIGTERM', () => {
  grpc.close();
  health.close();
  process.exit(0);
});
