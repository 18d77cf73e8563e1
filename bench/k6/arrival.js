// k6 open-model test: requests arrive at a fixed rate whatever the latency, so queueing shows up in p99.
// Raise RATE run by run; the highest rate whose thresholds pass is the capacity at the p99 target.
//   k6 run -e BASE_URL=http://localhost:8000 -e RATE=200 [-e DURATION=2m] [-e P99_MS=2000] bench/k6/arrival.js
import { positive } from './env.js';
import { predictOnce } from './predict.js';

export { buildRequest } from './predict.js';

const RATE = positive('RATE', 100); // requests per second
const DURATION = __ENV.DURATION || '2m';
const P99_MS = positive('P99_MS', 2000);
// Enough VUs to keep RATE going while each request waits up to the p99 target; more would only hide overload.
const MAX_VUS = Math.max(10, Math.ceil((RATE * P99_MS) / 1000));

export const options = {
  scenarios: {
    arrival: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(10, Math.ceil(RATE / 10))),
      maxVUs: MAX_VUS,
    },
  },
  thresholds: {
    http_req_failed: ['rate < 0.01'],
    http_req_duration: [`p(99) < ${P99_MS}`],
    // Iterations k6 could not start because every VU was busy: the rate was not held.
    dropped_iterations: ['count < 1'],
  },
};

export default predictOnce;
