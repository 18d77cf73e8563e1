// One iteration of the reference's grading client, shared by load.js and arrival.js.
import http from 'k6/http';
import { check } from 'k6';
import { mixedBody } from './sentences.js';

/**
 * The request of one iteration. The grader sends a string body with no params, so k6 adds no Content-Type
 * header; the server must accept JSON without one. BASE_URL is read per call, from `-e BASE_URL=...`.
 */
export function buildRequest(random = Math.random) {
  const baseUrl = (__ENV.BASE_URL || 'http://localhost:8000').replace(/\/+$/, '');
  return { method: 'POST', url: `${baseUrl}/project/bulk-predict`, body: mixedBody(random), params: {} };
}

/** Sends one request and applies the grader's check. */
export function predictOnce() {
  const req = buildRequest();
  const res = http.request(req.method, req.url, req.body, req.params);
  check(res, { 'status is 200': (r) => r.status === 200 });
}
