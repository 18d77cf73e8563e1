// A stand-in OTLP/HTTP collector for bench:tracing, as its own process so its work is neither the service's
// nor the load generator's CPU: it reads each export, counts its spans, and answers 200. GET /count says how
// many spans it got; any other GET answers 200 (the harness's health check).
import { createServer } from 'node:http';

let spans = 0;
createServer((req, res) => {
  if (req.method !== 'POST') {
    res.end(req.url === '/count' ? String(spans) : 'ok');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    // Each span of the JSON encoding has one "spanId" (a parent is "parentSpanId").
    spans += Buffer.concat(chunks).toString().split('"spanId"').length - 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
}).listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
