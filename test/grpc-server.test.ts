// The gRPC server itself: server reflection lists and describes the services (so grpcurl needs no protos), the
// connection's stream limit is GRPC_MAX_CONCURRENT_STREAMS, GRPC_PORT=0 binds nothing, and a GRPC_PORT that cannot
// be bound stops the start with a clear message.
import t from 'tap';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, type Settings } from 'node:http2';
import { join } from 'node:path';
import { grpcClient } from './grpc-client.js';
import { repoRoot, startService, waitFor } from './helper.js';

const REFLECTION_PROTO = join(
  repoRoot,
  'node_modules',
  '@grpc',
  'reflection',
  'build',
  'proto',
  'grpc',
  'reflection',
  'v1',
  'reflection.proto',
);

/** The TCP ports process `pid` listens on: its sockets' inodes, looked up among the LISTEN entries of /proc/net/tcp{,6}. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? [];
      } catch {
        return [];
      }
    }),
  );
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // st 0A: LISTEN; field 9: the inode.
      if (fields[3] === '0A' && inodes.has(fields[9])) ports.add(Number.parseInt(fields[1].split(':')[1], 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

t.test('reflection lists every service and describes them; HTTP/2 settings carry the stream limit', async (t) => {
  const service = await startService({ WORKERS: '1', GRPC_MAX_CONCURRENT_STREAMS: '7' });
  const reflection = grpcClient(REFLECTION_PROTO, 'grpc.reflection.v1.ServerReflection', service.grpcPort);
  t.teardown(async () => {
    reflection.close();
    await service.stop();
  });
  t.same(
    listeningPorts(service.child.pid!),
    [service.port, service.grpcPort].sort((a, b) => a - b),
    'the service listens on PORT and GRPC_PORT',
  );
  const ask = (request: object): Promise<any> =>
    new Promise((resolve, reject) => {
      const call = reflection.ServerReflectionInfo();
      call.on('data', (response: unknown) => {
        resolve(response);
        call.end();
      });
      call.on('error', reject);
      call.write(request);
    });
  const listed = await ask({ list_services: '' });
  const names = listed.list_services_response.service.map((s: { name: string }) => s.name);
  for (const name of ['inference.GRPCInferenceService', 'grpc.health.v1.Health']) t.ok(names.includes(name), `${name} is listed`);
  const session = connect(`http://127.0.0.1:${service.grpcPort}`);
  const [settings] = (await once(session, 'remoteSettings')) as [Settings];
  session.close();
  t.equal(settings.maxConcurrentStreams, 7, 'SETTINGS_MAX_CONCURRENT_STREAMS is GRPC_MAX_CONCURRENT_STREAMS');
  const described = await ask({ file_containing_symbol: 'inference.GRPCInferenceService' });
  const files: Buffer[] = described.file_descriptor_response.file_descriptor_proto;
  t.ok(files.length > 0, 'its file descriptor is sent');
  t.ok(
    files.some((file) => file.includes('ModelInfer') && file.includes('raw_input_contents')),
    'the descriptor holds the service and its messages',
  );
});

t.test('GRPC_PORT=0 binds nothing', async (t) => {
  const service = await startService({ WORKERS: '1', GRPC_PORT: '0' });
  t.teardown(() => service.stop());
  t.same(listeningPorts(service.child.pid!), [service.port], 'only the HTTP port');
  t.notMatch(service.output(), /grpc listening/);
});

t.test('a GRPC_PORT in use stops the start with a message naming it', async (t) => {
  const holder = await startService({ WORKERS: '1' });
  t.teardown(() => holder.stop());
  const clash = await startService({ WORKERS: '1', GRPC_PORT: String(holder.grpcPort) }, { waitHealthy: false });
  t.teardown(() => clash.stop('SIGKILL'));
  await waitFor(() => clash.child.exitCode !== null, 60_000, 'the start to fail');
  t.equal(clash.child.exitCode, 1, 'exit code 1');
  t.match(clash.output(), new RegExp(`"code":"INF_ERR_LISTEN".*cannot listen on 127\\.0\\.0\\.1:${holder.grpcPort}`));
});
