// The CLI's stderr rendering: a redrawn bar on a TTY, plain lines otherwise; a fake clock makes rates exact.
import t from 'tap';
import { createProgressReporter, type FetchEvent } from '../dist/model/progress.js';

function render(isTTY: boolean, events: Array<[atMs: number, event: FetchEvent]>): string {
  let clock = 0;
  let out = '';
  const report = createProgressReporter(
    {
      isTTY,
      write: (s: string) => {
        out += s;
      },
    },
    () => clock,
  );
  for (const [at, event] of events) {
    clock = at;
    report(event);
  }
  return out;
}

const file = 'onnx/model_quantized.onnx';
const total = 100_000_000;
/** 100 MB in 4 MB chunks, 40 ms apart: 100 MB/s. */
const download: Array<[number, FetchEvent]> = [
  [0, { kind: 'start', file, offset: 0, total }],
  ...Array.from({ length: 25 }, (_, i): [number, FetchEvent] => [
    (i + 1) * 40,
    { kind: 'data', file, received: (i + 1) * 4_000_000, total },
  ]),
  [1000, { kind: 'done', file, bytes: total, verified: true }],
];

t.test('Without a TTY the reporter prints one plain line per 10 % step, with the rate.', async (t) => {
  const lines = render(false, download).split('\n').filter(Boolean);
  t.equal(lines[0], `${file}: downloading of 100.0 MB`);
  t.same(
    lines.slice(1, -1).map((l) => /: (\d+)% /.exec(l)?.[1]),
    ['10', '20', '30', '40', '50', '60', '70', '80', '90', '100'],
  );
  t.equal(lines[5], `${file}: 50% (52.0 MB of 100.0 MB), 100.0 MB/s`);
  t.equal(lines.at(-1), `${file}: done, 100.0 MB, sha256 verified`);
  t.notMatch(lines.join('\n'), /\r|\x1b/, 'no control characters in a log');
});

t.test('On a TTY the reporter redraws a single bar line with the file, percent and MB/s, at most every 100 ms.', async (t) => {
  const out = render(true, download);
  const redraws = out.split('\r\x1b[K').slice(1, -1);
  // Chunks come every 40 ms, so a bar is drawn for every third one (120 ms, 240 ms, ... 960 ms).
  t.equal(redraws.length, 8, 'no redraw within 100 ms of the last one');
  t.equal(redraws[3], `${file} [############............]  48% 100.0 MB/s`);
  t.notMatch(out, /MB\/s\n/, 'the bar is redrawn in place, never ended by a newline');
  t.match(out, new RegExp(`\\r\\x1b\\[K${file}: done, 100\\.0 MB, sha256 verified\\n$`));
});

t.test('A resumed download reports where it resumes and rates only the bytes of this run.', async (t) => {
  const out = render(false, [
    [0, { kind: 'start', file, offset: 60_000_000, total }],
    [400, { kind: 'data', file, received: 70_000_000, total }],
  ]);
  t.equal(out, `${file}: resuming at 60.0 MB of 100.0 MB\n${file}: 70% (70.0 MB of 100.0 MB), 25.0 MB/s\n`);
});
