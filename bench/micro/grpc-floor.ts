// `npm run bench:grpc-floor` (issue 33, done-when 3): what gRPC on Node costs a cached answer before any service
// code runs. Four servers answer the same cached request (3 texts), one after another in alternating rounds, from
// the same kind of client at the same concurrency: a bare uWebSockets.js server answering the service's HTTP bytes
// (bare-server.ts), a bare node:http2 server answering one fixed gRPC frame (bare-grpc-server.ts: the floor of any
// gRPC server on node:http2, grpc-js's included), and the service itself over HTTP (bulk-predict) and over gRPC
// (ModelInfer). Server CPU per answer is what it is compared by: it does not depend on whether the client kept up.
import { basename, join } from 'node:path';
import { REPO_ROOT, HEALTH_PATH, PREDICT_PATH, postPredict, STANDIN_MODEL_DIR, startNodeServer, startService } from '../../test/harness.js';
import { leanGrpcClient, serviceDefinition } from '../lib/grpc-h2-client.js';
import { fmtRps, mdTable } from '../lib/format.js';
import { problems, type LoadResult } from '../lib/load.js';
import { median } from '../lib/stats.js';
import { defineBench, numberFlag, valueFlags } from '../lib/runner.js';

const BARE_JS = join(REPO_ROOT, 'dist', 'bench', 'micro', 'bare-server.js');
const BARE_GRPC_JS = join(REPO_ROOT, 'dist', 'bench', 'micro', 'bare-grpc-server.js');
const OIP_MODEL = basename(STANDIN_MODEL_DIR);
const TEXTS = ['I love you!', 'I hate you!', 'The movie was fine.'];
const TARGETS = ['bare HTTP/1.1 (uWS)', 'bare gRPC (node:http2)', 'service bulk-predict', 'service gRPC ModelInfer'] as const;
type Target = (typeof TARGETS)[number];

defineBench({
  name: 'grpc-floor',
  title: "gRPC's floor on Node: bare node:http2 against bare uWebSockets.js, and the service over both (issue 33)",
  usage: `  --connections N     calls or requests in flight (default 20, as bench:routes' cached loads)
  --duration S        seconds of each measured window (default 8)
  --rounds N          rounds, the order of the targets rotating (default 3)`,
  options: valueFlags('connections', 'duration', 'rounds'),
  async run({ values, log, track, measure }) {
    const connections = numberFlag('connections', values.connections, 20);
    const durationS = numberFlag('duration', values.duration, 8);
    const rounds = numberFlag('rounds', values.rounds, 3);
    const service = await track(startService({ WORKERS: '2', LOG_LEVEL: 'warn' }));
    const body = JSON.stringify({ text: TEXTS });
    const first = await postPredict(service.url, { text: TEXTS }, { raw: true });
    const client = leanGrpcClient('grpc_predict_v2.proto', 'inference.GRPCInferenceService', service.grpcPort);
    const request = {
      model_name: OIP_MODEL,
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [TEXTS.length], contents: { bytes_contents: TEXTS.map((t) => Buffer.from(t)) } }],
    };
    await client.call('ModelInfer', request);
    // The answer the service gives over gRPC, as the bare gRPC server's fixed response.
    const response = {
      model_name: OIP_MODEL,
      model_version: 'v',
      outputs: [
        { name: 'scores', datatype: 'FP32', shape: [3, 2], contents: { fp32_contents: [0.1, 0.9, 0.9, 0.1, 0.4, 0.6] } },
        {
          name: 'label',
          datatype: 'BYTES',
          shape: [3],
          contents: { bytes_contents: ['POSITIVE', 'NEGATIVE', 'POSITIVE'].map((s) => Buffer.from(s)) },
        },
      ],
    };
    const serialized = serviceDefinition('grpc_predict_v2.proto', 'inference.GRPCInferenceService').ModelInfer!.responseSerialize(response);
    const bare = await track(
      startNodeServer({
        name: 'bare',
        script: BARE_JS,
        healthPath: HEALTH_PATH,
        env: { BARE_BODY_B64: Buffer.from(first.text).toString('base64') },
      }),
    );
    const bareGrpc = await track(
      startNodeServer({
        name: 'bare-grpc',
        script: BARE_GRPC_JS,
        healthPath: '/health',
        env: { BARE_RESPONSE_B64: serialized.toString('base64') },
      }),
    );
    const bareClient = leanGrpcClient('grpc_predict_v2.proto', 'inference.GRPCInferenceService', bareGrpc.grpcPort);
    await bareClient.call('ModelInfer', request);
    const servers = {
      'bare HTTP/1.1 (uWS)': bare,
      'bare gRPC (node:http2)': bareGrpc,
      'service bulk-predict': service,
      'service gRPC ModelInfer': service,
    };
    const targets: Record<Target, { path: string; body: string } | { send: () => Promise<void> }> = {
      'bare HTTP/1.1 (uWS)': { path: PREDICT_PATH, body },
      'bare gRPC (node:http2)': { send: () => bareClient.call('ModelInfer', request) },
      'service bulk-predict': { path: PREDICT_PATH, body },
      'service gRPC ModelInfer': { send: () => client.call('ModelInfer', request) },
    };
    const runs: { target: Target; round: number; measured: LoadResult }[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const target of TARGETS.map((_, i) => TARGETS[(i + round) % TARGETS.length]!)) {
        const { load } = await measure(servers[target], { connections, pipelining: 1, warmupS: 2, durationS, ...targets[target] }, false);
        runs.push({ target, round, measured: load });
        log(
          `round ${round + 1} ${target}: ${fmtRps(load.okRps)}/s, ${load.serverCpuUsPerRequest?.toFixed(1)} µs per answer ${problems(load)}`,
        );
      }
    }
    client.close();
    bareClient.close();
    const us = (target: Target) =>
      median(runs.filter((r) => r.target === target).map((r) => r.measured.serverCpuUsPerRequest ?? Number.NaN));
    const rps = (target: Target) => median(runs.filter((r) => r.target === target).map((r) => r.measured.okRps));
    return {
      data: { settings: { connections, durationS, rounds }, runs },
      markdown: [
        `The same cached request (${TEXTS.length} texts) to each, ${connections} in flight, ${rounds} rounds of ${durationS} s, medians;`,
        'HTTP from autocannon, gRPC from the lean HTTP/2 client of bench:routes (bench/lib/grpc-h2-client.ts).',
        '',
        ...mdTable(
          ['target', 'answers/s', 'server CPU µs per answer'],
          TARGETS.map((target) => [target, fmtRps(rps(target)), us(target).toFixed(1)]),
          1,
        ),
        '',
        `Bare gRPC / bare HTTP/1.1, server CPU per answer: ×${(us('bare gRPC (node:http2)') / us('bare HTTP/1.1 (uWS)')).toFixed(2)};`,
        `the service's gRPC / its HTTP: ×${(us('service gRPC ModelInfer') / us('service bulk-predict')).toFixed(2)}; the service's HTTP answer / the bare node:http2`,
        `floor: ×${(us('service bulk-predict') / us('bare gRPC (node:http2)')).toFixed(2)} (below 1: a cached HTTP answer costs the service less than node:http2 alone costs a gRPC call).`,
      ],
    };
  },
});
