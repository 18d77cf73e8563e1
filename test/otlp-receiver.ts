// A real OTLP/HTTP traces receiver for the tests (node:http, decoding the exporter's JSON): every span it was
// sent, flattened, with its attributes and resource as plain values.
import { once } from 'node:events';
import { createServer } from 'node:http';

export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  status: { code?: number; message?: string };
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
type KeyValues = { key: string; value: AnyValue }[] | undefined;

const decodeValue = (v: AnyValue): unknown =>
  v.arrayValue
    ? (v.arrayValue.values ?? []).map(decodeValue)
    : v.intValue !== undefined
      ? Number(v.intValue)
      : (v.stringValue ?? v.boolValue ?? v.doubleValue);
const attributesOf = (kvs: KeyValues): Record<string, unknown> =>
  Object.fromEntries((kvs ?? []).map((kv) => [kv.key, decodeValue(kv.value)]));

/** An OTLP/HTTP traces endpoint: every span of every export request it received, flattened. */
export async function startReceiver(): Promise<{ url: string; spans: ExportedSpan[]; requests: number; close(): Promise<void> }> {
  const state = { spans: [] as ExportedSpan[], requests: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      const body: any = JSON.parse(Buffer.concat(chunks).toString());
      for (const rs of body.resourceSpans ?? []) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            state.spans.push({
              ...s,
              parentSpanId: s.parentSpanId ?? '',
              status: s.status ?? {},
              attributes: attributesOf(s.attributes),
              resource,
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get spans() {
      return state.spans;
    },
    get requests() {
      return state.requests;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
