// A stand-in for the load generator's CPU: keeps `share` of one core busy in 10 ms periods (spin, then
// sleep), so the ceiling can be measured with the room an HTTP client would take on the same cores.
import { workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { BurnerWorkerData } from './ceiling-protocol.js';

const PERIOD_MS = 10;
const { share, stop } = workerData as BurnerWorkerData;
const flag = new Int32Array(stop);
const busyMs = Math.min(1, Math.max(0, share)) * PERIOD_MS;

let sink = 0;
while (Atomics.load(flag, 0) === 0) {
  const start = performance.now();
  while (performance.now() - start < busyMs) sink++;
  const rest = PERIOD_MS - (performance.now() - start);
  // Sleeps without the event loop, and wakes at once when the main thread sets the flag and notifies.
  if (rest > 0) Atomics.wait(flag, 0, 0, rest);
}
if (sink < 0) process.stdout.write('');
