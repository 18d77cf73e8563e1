// The run's Markdown summary: how it was run, the ratios, and the absolute numbers behind them.
import { fmtCores, fmtMs, fmtRatio, fmtRps, mdTable } from './format.js';
import { failures } from './load.js';
import type { BenchReport, TargetName } from './report.js';

/** Renders the summary; `chartFile` is the SVG's file name, linked relative to the Markdown file. */
export function renderMarkdown(report: BenchReport, chartFile: string): string {
  const { settings, machine, git } = report;
  const targets: TargetName[] = ['ours', 'peer'];
  const out: string[] = [
    `# Benchmark ${report.startedAt.slice(0, 10)} (${git.sha}${git.dirty ? ', uncommitted changes' : ''})`,
    '',
    `![Throughput and p50/p99 latency per scenario, ours vs the peer](${chartFile})`,
    '',
    '## Ratios (ours / peer)',
    '',
    'Above 1 is better for req/s; below 1 is better for latency. The machine is shared, so compare ratios, not absolute numbers.',
    '',
    ...mdTable(
      ['Scenario', 'req/s ours/peer', 'p50 ours/peer', 'p99 ours/peer'],
      report.scenarios.map((s) => [s.name, fmtRatio(s.ratios.rps), fmtRatio(s.ratios.p50), fmtRatio(s.ratios.p99)]),
    ),
    '',
    '## Results',
    '',
    ...mdTable(
      ['Scenario', 'Target', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'requests', 'failed', 'server CPU', 'client CPU'],
      report.scenarios.flatMap((s) =>
        targets.map((t) => [
          s.name,
          t,
          fmtRps(s[t].rps),
          fmtMs(s[t].p50),
          fmtMs(s[t].p90),
          fmtMs(s[t].p99),
          String(s[t].requests),
          String(failures(s[t])),
          fmtCores(s[t].serverCpu),
          fmtCores(s[t].clientCpu),
        ]),
      ),
      2,
    ),
    '',
    '"failed" counts non-2xx answers, socket errors and timeouts; a run with failures is not comparable.',
    `CPU is in cores (CPU seconds per second). The load generator shares the machine's ${machine.cpus} cores: when`,
    'the client is near 1 core and the server is not near the rest, the scenario measures autocannon, not the server.',
    '',
    '## Scenarios',
    '',
    ...mdTable(
      ['Scenario', 'Body', 'Texts/request', 'Connections', 'Pipelining', 'Warm-up', 'Measured'],
      report.scenarios.map((s) => [
        s.name,
        s.description,
        s.textsPerRequest,
        String(s.connections),
        String(s.pipelining),
        `${settings.warmupS} s`,
        `${settings.rounds} × ${settings.durationS} s`,
      ]),
      2,
    ),
    '',
    `Every request is \`POST /project/bulk-predict\` with no Content-Type header, as the reference's grader sends it.`,
    `Order: ${settings.order}. Each measured run follows its own warm-up run against the same target; each number`,
    `above is the median over rounds. Body sequence seed: ${settings.seed} (\`--seed ${settings.seed}\` replays it).`,
    '',
    '## Targets',
    '',
    ...targets.map(
      (t) =>
        `- **${t}**: ${report.targets[t].description} (\`${report.targets[t].script}\`, ` +
        Object.entries(report.targets[t].env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') +
        ')',
    ),
    `- Parity check before timing: ${report.parity.texts} texts, same labels, largest score difference ` +
      `${report.parity.maxScoreDiff.toFixed(4)} (tolerance ${report.parity.tolerance}).`,
    '',
    '## Machine',
    '',
    `${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}. ` +
      `Run from ${report.startedAt} to ${report.finishedAt}, ${report.mode} mode.`,
    '',
  ];
  return out.join('\n');
}
