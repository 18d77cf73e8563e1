// docs/api.md's gRPC section, kept true to the code: its table of status codes is src/grpc/status-codes.ts's, and
// every grpcurl example is sent, as grpcurl sends it, to a real service, which answers it OK (the example's
// fields all being fields of its message), and `list` names what reflection lists.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Errors } from '../dist/src/errors.js';
import { grpcFailureOf, STATUS_NAMES } from '../dist/src/grpc/status-codes.js';
import { readBack } from './fixtures/proto-wire.js';
import { grpcClient, unary } from './grpc-client.js';
import { repoRoot, STANDIN_MODEL_DIR, startService } from './helper.js';

const docs = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
const start = docs.indexOf('\n## gRPC\n');
const section = docs.slice(start, docs.indexOf('\n## ', start + 1));
const subsection = (heading: string) => {
  const at = section.indexOf(`\n### ${heading}\n`);
  return section.slice(at, section.indexOf('\n### ', at + 1) === -1 ? undefined : section.indexOf('\n### ', at + 1));
};

/** The proto file of a package-qualified service. */
const PROTO_OF: Record<string, string> = { inference: 'grpc_predict_v2.proto', tei: 'tei.proto', grpc: 'health.proto' };
/** The model the examples name, and the one the test service serves (the stand-in's directory name). */
const DOCUMENTED_MODEL = 'distilbert-base-uncased-finetuned-sst-2-english';
const SERVED_MODEL = basename(STANDIN_MODEL_DIR);

t.test('The status table names, for each error code in it, the status src/grpc/status-codes.ts gives it.', async (t) => {
  const rows = subsection('Errors as status codes')
    .split('\n')
    .filter((line) => /^\| `[A-Z_]+` \|/.test(line));
  t.ok(rows.length >= 8, 'a row per status');
  // Each error code's error, made by its factory in src/errors.ts.
  const byCode = new Map<string, Error>();
  for (const factory of Object.values(Errors as Record<string, (...a: never[]) => Error & { code: string }>)) {
    const error = factory('x' as never, 'y' as never);
    byCode.set(error.code, error);
  }
  for (const row of rows) {
    const [status, codes] = row
      .split('|')
      .slice(1, 3)
      .map((cell) => cell.trim());
    for (const code of codes!.match(/INF_ERR_[A-Z_]+/g) ?? []) {
      const error = byCode.get(code);
      t.ok(error, `${code} is an error code`);
      if (error) t.equal(`\`${STATUS_NAMES[grpcFailureOf(error).code]}\``, status, `${code} is ${status}`);
    }
  }
});

interface Example {
  command: string;
  /** `package.Service/Method`; undefined for `list` and `describe`. */
  method?: string;
  request: object;
  metadata: Record<string, string>;
}

/** The grpcurl commands of the section's code blocks: comments dropped, continued lines joined. */
function examples(): Example[] {
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map(([, block]) => block!);
  const commands = blocks
    .join('\n')
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split(/\n(?=grpcurl )/)
    .map((command) => command.trim())
    .filter((command) => command.startsWith('grpcurl '));
  return commands.map((command) => ({
    command,
    method: /localhost:8001 ([\w.]+\/\w+)$/.exec(command)?.[1],
    request: JSON.parse(/ -d '([^']*)'/.exec(command)?.[1] ?? '{}'),
    metadata: Object.fromEntries([...command.matchAll(/ -H '([^:']+): ([^']*)'/g)].map(([, key, value]) => [key, value])),
  }));
}

/** The services the docs' `list` example shows (its comment lines). */
function documentedList(): string[] {
  const lines = subsection('`grpcurl` examples').split('\n');
  const at = lines.findIndex((line) => line.startsWith('grpcurl') && line.endsWith(' list'));
  const listed: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith('# ')) break;
    listed.push(line.slice(2));
  }
  return listed;
}

const service = await startService();
t.teardown(() => service.stop());

t.test('Every grpcurl example that calls a method is a message of that method, and the service answers it OK.', async (t) => {
  const calls = examples().filter((example) => example.method);
  t.ok(calls.length >= 8, `${calls.length} calls`);
  for (const { command, method, request, metadata } of calls) {
    const [serviceName, methodName] = method!.split('/') as [string, string];
    const proto = PROTO_OF[serviceName.split('.')[0]!]!;
    t.same(readBack(proto, serviceName, methodName, request), request, `${method}: every field of the example is a field of the message`);
    const sent = JSON.parse(JSON.stringify(request).replaceAll(DOCUMENTED_MODEL, SERVED_MODEL));
    const client = grpcClient(proto, serviceName, service.grpcPort);
    const { error } = await unary(client, methodName, sent, { metadata });
    client.close();
    t.equal(error?.code ?? grpc.status.OK, grpc.status.OK, `${command.slice(0, 120)}: ${error?.details ?? 'OK'}`);
  }
});

t.test('The `list` example names the services reflection lists.', async (t) => {
  const reflection = grpcClient(
    join(repoRoot, 'node_modules', '@grpc', 'reflection', 'build', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto'),
    'grpc.reflection.v1.ServerReflection',
    service.grpcPort,
  );
  t.teardown(() => reflection.close());
  const stream = reflection.ServerReflectionInfo();
  const answer = new Promise<{ list_services_response: { service: { name: string }[] } }>((resolve, reject) => {
    stream.on('data', resolve);
    stream.on('error', reject);
  });
  stream.write({ list_services: '*' });
  const listed = (await answer).list_services_response.service.map((s) => s.name);
  stream.end();
  // grpcurl prints them sorted.
  t.same(documentedList(), [...listed].sort());
});
