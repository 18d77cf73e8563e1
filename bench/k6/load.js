// k6 reproduction of the reference's grading run: closed model, 10 VUs, no think time.
//   k6 run -e BASE_URL=http://localhost:8000 \
//     --summary-trend-stats "min,avg,med,max,p(90),p(95),p(99),p(99.99)" bench/k6/load.js
import http from 'k6/http';
import { check } from 'k6';
import { mixedBody } from './sentences.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:8000').replace(/\/+$/, '');
const TARGET_VUS = 10;

export const options = {
  stages: [
    { duration: '30s', target: TARGET_VUS },
    { duration: '7m', target: TARGET_VUS },
    { duration: '3m', target: 0 },
  ],
  thresholds: {
    http_req_duration: ['p(99) < 2000'],
  },
};

/**
 * The request of one iteration. The grader sends a string body with no params, so k6 adds no
 * Content-Type header; the server must accept JSON without one.
 */
export function buildRequest(random = Math.random) {
  return { method: 'POST', url: `${BASE_URL}/project/bulk-predict`, body: mixedBody(random), params: {} };
}

export default function () {
  const req = buildRequest();
  const res = http.request(req.method, req.url, req.body, req.params);
  check(res, { 'status is 200': (r) => r.status === 200 });
}
