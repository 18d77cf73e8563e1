// The run's chart as a self-contained SVG (no chart library): one row per scenario, and in each row three
// panels (throughput, p50, p99) with a bar for us and one for the peer, each panel scaled to its larger bar.
import { escapeXml, fmtMs, fmtRatio, fmtRps, SVG_FONT, svgText } from './format.js';
import { failures } from './load.js';
import type { BenchReport, ScenarioSummary, TargetName, TargetStats } from './report.js';

const WIDTH = 1000;
const HEADER = 100;
const ROW = 120;
const FOOTER = 56;
const LABEL_X = 20;
const PANEL_X = [270, 515, 760] as const;
const PANEL_W = 225;
const BAR_MAX = PANEL_W - 70; // room for the value label after the longest bar
const COLORS: Record<TargetName, string> = { ours: '#2563eb', peer: '#ea7a0c' };

interface Panel {
  title: string;
  pick: (s: TargetStats) => number;
  fmt: (v: number) => string;
  ratio: (s: ScenarioSummary) => number;
  unit: string;
}

const PANELS: Panel[] = [
  { title: 'throughput, req/s (higher is better)', pick: (s) => s.rps, fmt: fmtRps, ratio: (s) => s.ratios.rps, unit: 'req/s' },
  { title: 'p50 latency, ms (lower is better)', pick: (s) => s.p50, fmt: fmtMs, ratio: (s) => s.ratios.p50, unit: 'ms' },
  { title: 'p99 latency, ms (lower is better)', pick: (s) => s.p99, fmt: fmtMs, ratio: (s) => s.ratios.p99, unit: 'ms' },
];

/** Greedy word wrap to lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function panel(s: ScenarioSummary, p: Panel, x: number): string {
  const values = { ours: p.pick(s.ours), peer: p.pick(s.peer) };
  const max = Math.max(values.ours, values.peer);
  const parts = [
    svgText(x, 20, p.title, 'font-size="11" fill="#374151"'),
    svgText(x + PANEL_W, 36, `ours/peer ${fmtRatio(p.ratio(s))}`, 'font-size="11" font-weight="600" text-anchor="end" fill="#111827"'),
  ];
  (['ours', 'peer'] as const).forEach((target, i) => {
    const v = values[target];
    const len = max > 0 && Number.isFinite(v) ? Math.max(1, (v / max) * BAR_MAX) : 1;
    const y = 44 + i * 32;
    const failed = failures(s[target]);
    const label = p.fmt(v) + (failed > 0 ? ` (${failed} failed)` : '');
    parts.push(
      `<rect class="bar ${target}" x="${x}" y="${y}" width="${len.toFixed(1)}" height="24" rx="2" fill="${COLORS[target]}">` +
        `<title>${escapeXml(`${s.name}, ${target}: ${p.fmt(v)} ${p.unit}`)}</title></rect>`,
      svgText(x + len + 5, y + 16, label, `font-size="12" fill="${failed > 0 ? '#b91c1c' : '#111827'}"`),
    );
  });
  return parts.join('');
}

function row(s: ScenarioSummary, index: number, warmupS: number, durationS: number): string {
  const y = HEADER + index * ROW;
  const desc = wrap(s.description, 38).slice(0, 3);
  const parts = [
    `<g class="scenario" id="scenario-${escapeXml(s.name)}" data-scenario="${escapeXml(s.name)}" transform="translate(0,${y})">`,
    `<line x1="${LABEL_X}" y1="0" x2="${WIDTH - 20}" y2="0" stroke="#e5e7eb"/>`,
    svgText(LABEL_X, 24, s.name, 'font-size="15" font-weight="700" fill="#111827"'),
    ...desc.map((line, i) => svgText(LABEL_X, 44 + i * 15, line, 'font-size="11" fill="#4b5563"')),
    svgText(
      LABEL_X,
      106,
      `${s.connections} connections · pipelining ${s.pipelining} · ${warmupS} s + ${durationS} s`,
      'font-size="11" fill="#6b7280"',
    ),
    ...PANELS.map((p, i) => panel(s, p, PANEL_X[i]!)),
    '</g>',
  ];
  return parts.join('\n');
}

/** Renders the report's chart; the result is a standalone SVG document. */
export function renderChart(report: BenchReport): string {
  const height = HEADER + report.scenarios.length * ROW + FOOTER;
  const { settings, machine, git } = report;
  const subtitle =
    `${report.startedAt.slice(0, 10)} · ${git.sha}${git.dirty ? ' (dirty)' : ''} · ${machine.cpus} × ${machine.cpuModel}` +
    ` · Node ${machine.node} · ${report.mode} mode, ${settings.workers} worker(s)`;
  const footnote =
    `Each bar is the median of ${settings.rounds} measured run(s) of ${settings.durationS} s, each after a ` +
    `${settings.warmupS} s warm-up; ${settings.order}. Each panel is scaled to its larger bar. The machine is shared: ratios, ` +
    'not absolute numbers, are the result.';
  const legendY = 78;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${SVG_FONT}>`,
    `<title>${escapeXml('Sentiment inference benchmark: ours vs the transformers.js peer')}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    svgText(
      LABEL_X,
      32,
      'Sentiment inference: ours vs a transformers.js + fastify peer',
      'font-size="20" font-weight="700" fill="#111827"',
    ),
    svgText(LABEL_X, 54, subtitle, 'font-size="12" fill="#4b5563"'),
    `<g class="legend">`,
    `<rect x="${LABEL_X}" y="${legendY - 11}" width="14" height="14" fill="${COLORS.ours}"/>`,
    svgText(LABEL_X + 20, legendY, `ours: ${report.targets.ours.description}`, 'font-size="12" fill="#111827"'),
    `<rect x="${LABEL_X + 470}" y="${legendY - 11}" width="14" height="14" fill="${COLORS.peer}"/>`,
    svgText(LABEL_X + 490, legendY, `peer: ${report.targets.peer.description}`, 'font-size="12" fill="#111827"'),
    '</g>',
    ...report.scenarios.map((s, i) => row(s, i, settings.warmupS, settings.durationS)),
    ...wrap(footnote, 160).map((line, i) => svgText(LABEL_X, height - FOOTER + 24 + i * 15, line, 'font-size="11" fill="#6b7280"')),
    '</svg>',
    '',
  ].join('\n');
}
