// k6 over gRPC: the sentences of load.js (95 % the fixed three, 5 % the shuffled ten) as one Open Inference
// Protocol ModelInfer per iteration, or, with SERVICE=tei, as TEI's tei.v1.Predict/Predict, one call per text
// (TEI's unary Predict takes one input). Closed model: VUS users, no think time, one connection each.
//   k6 run -e ADDR=localhost:8001 [-e SERVICE=tei] [-e MODEL_NAME=distilbert-base-uncased-finetuned-sst-2-english]
//     [-e VUS=10] [-e DURATION=1m] [-e P99_MS=2000] [-e TIMEOUT=10s] [-e API_KEY=...] [-e PLAINTEXT=false]
//     [-e PROTO_DIR=../../schemas/grpc] bench/k6/grpc.js
import grpc from 'k6/net/grpc';
import encoding from 'k6/encoding';
import { check } from 'k6';
import { positive } from './env.js';
import { mixedTexts } from './sentences.js';

export const MODEL_INFER = 'inference.GRPCInferenceService/ModelInfer';
export const TEI_PREDICT = 'tei.v1.Predict/Predict';

const SERVICE = __ENV.SERVICE || 'oip';
if (SERVICE !== 'oip' && SERVICE !== 'tei') throw new Error(`SERVICE must be oip or tei, got "${SERVICE}"`);
const ADDR = __ENV.ADDR || 'localhost:8001';
// The model's name on the OIP routes: the last part of its hub repository (docs/api.md).
const MODEL_NAME = __ENV.MODEL_NAME || 'distilbert-base-uncased-finetuned-sst-2-english';
// Plaintext by default (a port-forward, or inside the mesh); PLAINTEXT=false for TLS through the gateway.
const PLAINTEXT = __ENV.PLAINTEXT !== 'false';
const VUS = positive('VUS', 10);
const DURATION = __ENV.DURATION || '1m';
const P99_MS = positive('P99_MS', 2000);
// Sent as grpc-timeout, the call's deadline on the server; the default is the service's REQUEST_TIMEOUT_MS.
const TIMEOUT = __ENV.TIMEOUT || '10s';

// Init context only: k6 reads the proto once, relative to this script.
const client = new grpc.Client();
client.load([__ENV.PROTO_DIR || '../../schemas/grpc'], SERVICE === 'tei' ? 'tei.proto' : 'grpc_predict_v2.proto');

export const options = {
  scenarios: {
    grpc: { executor: 'constant-vus', vus: VUS, duration: DURATION },
  },
  thresholds: {
    grpc_req_duration: [`p(99) < ${P99_MS}`],
    // gRPC has no http_req_failed: the share of failed checks is the error rate.
    checks: ['rate > 0.99'],
  },
};

/** ModelInfer's request: the texts as one BYTES tensor of shape [n], each text's UTF-8 (base64 in k6's JSON form). */
export function modelInferRequest(texts) {
  return {
    model_name: MODEL_NAME,
    inputs: [
      {
        name: 'text',
        datatype: 'BYTES',
        shape: [texts.length],
        contents: { bytes_contents: texts.map((text) => encoding.b64encode(text)) },
      },
    ],
  };
}

/** The calls of one iteration: `{ method, request, answers }`, `answers(message)` true when it answers every text. */
export function buildCalls(random = Math.random) {
  const texts = mixedTexts(random);
  if (SERVICE === 'tei') {
    return texts.map((text) => ({
      method: TEI_PREDICT,
      request: { inputs: text },
      answers: (message) => (message?.predictions?.length ?? 0) > 0,
    }));
  }
  return [
    {
      method: MODEL_INFER,
      request: modelInferRequest(texts),
      // int64 shapes arrive as strings in k6's JSON form.
      answers: (message) => Number(message?.outputs?.find((o) => o.name === 'label')?.shape?.[0]) === texts.length,
    },
  ];
}

const params = {
  metadata: __ENV.API_KEY ? { authorization: `Bearer ${__ENV.API_KEY}` } : {},
  timeout: TIMEOUT,
};
let connected = false;

export default function () {
  // Each VU has its own runtime, so one connection per VU, made on its first iteration (not allowed at init).
  if (!connected) {
    client.connect(ADDR, { plaintext: PLAINTEXT });
    connected = true;
  }
  for (const call of buildCalls()) {
    const response = client.invoke(call.method, call.request, params);
    check(response, {
      'status is OK': (r) => r.status === grpc.StatusOK,
      'answers every text': (r) => call.answers(r.message),
    });
  }
}
