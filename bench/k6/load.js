// k6 reproduction of the reference's grading run: closed model, 10 VUs, no think time.
//   k6 run -e BASE_URL=http://localhost:8000 \
//     --summary-trend-stats "min,avg,med,max,p(90),p(95),p(99),p(99.99)" bench/k6/load.js
import { predictOnce } from './predict.js';

export { buildRequest } from './predict.js';

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

export default predictOnce;
