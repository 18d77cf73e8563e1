// text-embeddings-inference's tei.v1 services (schemas/grpc/tei.proto) with TEI's semantics (router/src/grpc/server.rs),
// each method through the gRPC pipeline (call.ts) and TEI's routes' own code (this folder), so the cache, single
// flight and admission are the HTTP routes'. Their messages name no model: they serve the default one
// (grpc/default-model.ts). A classifier has no embeddings: Embed's methods answer UNIMPLEMENTED.
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import type { TextInput } from '../../cache/cache-key.js';
import { teiPredict } from './predict.js';
import { checkReranker, rankPairs, teiRerank } from './rerank.js';
import { clientStreamCall, type GrpcCallScope, type GrpcDeps, streamCall, unaryCall } from '../../grpc/call.js';
import type { GrpcService } from '../../grpc/grpc-service.js';
import { serviceDefinition } from '../../grpc/protos.js';
import { GrpcStatusError } from '../../grpc/status-codes.js';
import { teiDefaultModel } from './grpc/default-model.js';
import type { PredictResponse, RerankRequest, RerankStreamRequest } from './grpc/messages.js';
import { metadataOf, type PredictCall, predictCallOf, predictPairCallOf, predictResponseOf } from './grpc/predict.js';
import { RerankStreamPairs, rerankCallOf, rerankResponseOf } from './grpc/rerank.js';

export const TEI_PROTO = 'tei.proto';

const EMBED_METHODS = ['Embed', 'EmbedStream', 'EmbedSparse', 'EmbedSparseStream', 'EmbedAll', 'EmbedAllStream'];
const NO_EMBEDDINGS = new GrpcStatusError(
  grpc.status.UNIMPLEMENTED,
  'this server serves a text classifier (Info: MODEL_TYPE_CLASSIFIER), which has no embeddings; use tei.v1.Predict',
);

export function createTeiGrpcServices(deps: GrpcDeps): GrpcService[] {
  const defaultModel = teiDefaultModel(deps.models, deps.config, deps.version);
  /** The default model for a call that runs it; its name on the call's span. */
  const modelOf = (scope: GrpcCallScope) => {
    const model = defaultModel();
    scope.trace?.model(model.served.name);
    return model;
  };
  // Health's serving flags are fixed when the services are registered: by the default model the server started with.
  const isReranker = defaultModel().rerankLimits.numLabels === 1;
  const service = (name: string, implementation: grpc.UntypedServiceImplementation, serving = true): GrpcService => ({
    definition: serviceDefinition(TEI_PROTO, `tei.v1.${name}`),
    implementation,
    serving,
  });
  const method = (serviceName: string, name: string) => `tei.v1.${serviceName}/${name}`;

  const predict = async ({ input, options }: PredictCall, scope: GrpcCallScope): Promise<PredictResponse> => {
    const startedAt = performance.now();
    const prediction = await teiPredict(modelOf(scope).served.predictor, [input], scope, options);
    return predictResponseOf(prediction.predictions[0], metadataOf([input], [prediction], startedAt));
  };

  const rerank = async (request: RerankRequest, scope: GrpcCallScope) => {
    const startedAt = performance.now();
    const call = rerankCallOf(request);
    const { served, rerankLimits } = modelOf(scope);
    const { ranks, predictions } = await teiRerank(served.predictor, rerankLimits, call, scope);
    return rerankResponseOf(ranks, metadataOf(pairsOf(call.query, call.texts), predictions, startedAt));
  };

  // TEI refuses a classifier's stream before reading it; a reranker's messages are gathered, then ranked at once.
  const rerankStream = async (messages: AsyncIterable<RerankStreamRequest>, scope: GrpcCallScope) => {
    const { served, rerankLimits } = modelOf(scope);
    checkReranker(rerankLimits.numLabels);
    const startedAt = performance.now();
    const gathered = new RerankStreamPairs(rerankLimits.maxBatch);
    for await (const message of messages) gathered.add(message);
    const { ranks, predictions } = await rankPairs(served.predictor, gathered.pairs, gathered.options, scope);
    const inputs = gathered.pairs.map((pair): TextInput => [pair.query, pair.text]);
    return rerankResponseOf(ranks, metadataOf(inputs, predictions, startedAt));
  };

  const unimplemented = async (): Promise<never> => {
    throw NO_EMBEDDINGS;
  };

  return [
    // Info answers from memory in every state, like GET /info (API_KEY_ROUTES' `info` group).
    service('Info', { Info: unaryCall(deps, method('Info', 'Info'), async () => defaultModel().infoResponse, { group: 'info' }) }),
    service(
      'Embed',
      Object.fromEntries(
        EMBED_METHODS.map((name) => {
          const call = name.endsWith('Stream') ? streamCall : unaryCall;
          return [name, call(deps, method('Embed', name), unimplemented)];
        }),
      ),
      // A classifier has no embeddings: TEI's health says so too.
      false,
    ),
    service('Predict', {
      Predict: unaryCall(deps, method('Predict', 'Predict'), (request, scope) => predict(predictCallOf(request), scope)),
      PredictPair: unaryCall(deps, method('Predict', 'PredictPair'), (request, scope) => predict(predictPairCallOf(request), scope)),
      PredictStream: streamCall(deps, method('Predict', 'PredictStream'), (request, scope) => predict(predictCallOf(request), scope)),
      PredictPairStream: streamCall(deps, method('Predict', 'PredictPairStream'), (request, scope) =>
        predict(predictPairCallOf(request), scope),
      ),
    }),
    service(
      'Rerank',
      {
        Rerank: unaryCall(deps, method('Rerank', 'Rerank'), rerank),
        RerankStream: clientStreamCall(deps, method('Rerank', 'RerankStream'), rerankStream),
      },
      // Only a one-label cross-encoder re-ranks (checkReranker).
      isReranker,
    ),
    service('Tokenize', {
      Tokenize: unaryCall(deps, method('Tokenize', 'Tokenize'), (request, scope) => modelOf(scope).tokenizer.tokenize(request)),
      TokenizeStream: streamCall(deps, method('Tokenize', 'TokenizeStream'), (request, scope) =>
        modelOf(scope).tokenizer.tokenize(request),
      ),
      Decode: unaryCall(deps, method('Tokenize', 'Decode'), (request, scope) => modelOf(scope).tokenizer.decode(request)),
      DecodeStream: streamCall(deps, method('Tokenize', 'DecodeStream'), (request, scope) => modelOf(scope).tokenizer.decode(request)),
    }),
  ];
}

function pairsOf(query: string, texts: readonly string[]): TextInput[] {
  return texts.map((text) => [query, text]);
}
