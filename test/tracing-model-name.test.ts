// The request span names its model (`model.name`): over gRPC by the name a call asks for (OIP) or the default
// model (tei.v1), over HTTP for the routes that run the default model; a call for an unknown model has none. The
// real service with a repository of two models, exporting to a real OTLP receiver.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { grpcClient, unary } from './grpc-client.js';
import { postPredict, startService, waitFor } from './helper.js';
import { twoModelRepository } from './model-repository-dir.js';
import { startReceiver } from './otlp-receiver.js';

const SERVER = 2;

t.test('each request span carries the name of the model it ran', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const repository = await twoModelRepository();
  t.teardown(() => repository.remove());
  const service = await startService({ ...repository.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
  const oip = grpcClient('grpc_predict_v2.proto', 'inference.GRPCInferenceService', service.grpcPort);
  const tei = grpcClient('tei.proto', 'tei.v1.Predict', service.grpcPort);
  t.teardown(async () => {
    oip.close();
    tei.close();
    await service.stop();
  });
  const input = (text: string) => ({ name: 'text', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from(text)] } });
  const id = (requestId: string) => ({ metadata: { 'x-request-id': requestId } });

  t.ok((await unary(oip, 'ModelInfer', { model_name: 'nli', inputs: [input('a traced text')] }, id('infer-nli'))).value);
  t.ok((await unary(oip, 'ModelInfer', { model_name: 'sentiment', inputs: [input('a traced text')] }, id('infer-sentiment'))).value);
  t.ok((await unary(oip, 'ModelMetadata', { name: 'nli' }, id('metadata-nli'))).value);
  t.ok((await unary(tei, 'Predict', { inputs: 'a traced text' }, id('tei-predict'))).value);
  const unknown = await unary(oip, 'ModelInfer', { model_name: 'no-such-model', inputs: [input('x')] }, id('infer-unknown'));
  t.equal(unknown.error?.code, grpc.status.NOT_FOUND);
  const http = await postPredict(
    service.url,
    { text: ['a traced text over HTTP'] },
    { headers: { 'content-type': 'application/json', 'x-request-id': 'bulk-predict' } },
  );
  t.equal(http.status, 200);

  t.equal(await service.stop(), 0, 'graceful exit, spans flushed');
  await waitFor(() => receiver.spans.filter((s) => s.kind === SERVER).length >= 6, 5_000, 'the six request spans');
  const modelOf = (requestId: string) => {
    const span = receiver.spans.find(
      (s) =>
        s.kind === SERVER &&
        [s.attributes['rpc.grpc.response.metadata.x-request-id'], s.attributes['http.response.header.x-request-id']].some(
          (ids) => (ids as string[] | undefined)?.[0] === requestId,
        ),
    );
    t.ok(span, `the span of ${requestId}`);
    return span?.attributes['model.name'];
  };
  t.equal(modelOf('infer-nli'), 'nli', 'ModelInfer: the model asked for');
  t.equal(modelOf('infer-sentiment'), 'sentiment');
  t.equal(modelOf('metadata-nli'), 'nli', 'ModelMetadata too');
  t.equal(modelOf('tei-predict'), 'sentiment', 'tei.v1: the default model');
  t.equal(modelOf('bulk-predict'), 'sentiment', 'bulk-predict: the default model');
  t.equal(modelOf('infer-unknown'), undefined, 'an unknown model: none');
});
