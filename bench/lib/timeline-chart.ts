// bench:soak's chart as a self-contained SVG (no chart library, like chart.ts): stacked panels sharing the
// time axis, one line per series, each panel scaled to its own range.
import { escapeXml, SVG_FONT, svgText } from './format.js';
import type { SoakReport } from './soak-report.js';

const WIDTH = 1000;
const PANEL_H = 150;
const TOP = 70;
const GAP = 40;
const LEFT = 80;
const RIGHT = 30;

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

interface Panel {
  title: string;
  series: Series[];
}

function panel(p: Panel, top: number, maxT: number): string {
  const finite = p.series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  const lo = Math.min(0, ...finite);
  const hi = Math.max(lo + 1e-9, ...finite) * 1.05;
  const w = WIDTH - LEFT - RIGHT;
  const x = (t: number): number => LEFT + (maxT > 0 ? (t / maxT) * w : 0);
  const y = (v: number): number => top + PANEL_H - ((v - lo) / (hi - lo)) * PANEL_H;
  const parts = [
    `<g class="panel" data-title="${escapeXml(p.title)}">`,
    svgText(LEFT, top - 8, p.title, 'font-size="13" font-weight="600" fill="#111827"'),
    `<rect x="${LEFT}" y="${top}" width="${w}" height="${PANEL_H}" fill="none" stroke="#e5e7eb"/>`,
    svgText(LEFT - 6, top + 10, hi.toPrecision(3), 'font-size="10" text-anchor="end" fill="#6b7280"'),
    svgText(LEFT - 6, top + PANEL_H, lo.toPrecision(3), 'font-size="10" text-anchor="end" fill="#6b7280"'),
  ];
  p.series.forEach((s, i) => {
    const pts = s.points.filter(([, v]) => Number.isFinite(v)).map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    if (pts.length > 0)
      parts.push(
        `<polyline class="series" data-series="${escapeXml(s.name)}" fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.join(' ')}"/>`,
      );
    parts.push(
      `<rect x="${LEFT + w - 200 + i * 100}" y="${top - 19}" width="10" height="10" fill="${s.color}"/>`,
      svgText(LEFT + w - 186 + i * 100, top - 10, s.name, 'font-size="11" fill="#374151"'),
    );
  });
  parts.push('</g>');
  return parts.join('\n');
}

/** Renders the run's chart; the result is a standalone SVG document. */
export function renderSoakChart(r: SoakReport): string {
  const at = (pick: (s: SoakReport['samples'][number]) => number | null): [number, number][] =>
    r.samples.map((s) => [s.t, pick(s) ?? Number.NaN]);
  const mid = (b: SoakReport['buckets'][number]): number => b.startS + r.settings.bucketS / 2;
  const panels: Panel[] = [
    {
      title: 'memory, MiB',
      series: [
        { name: 'RSS', color: '#2563eb', points: at((s) => s.rssMiB) },
        { name: 'heap used', color: '#ea7a0c', points: at((s) => s.heapUsedMiB) },
      ],
    },
    {
      title: `latency per ${r.settings.bucketS} s, ms`,
      series: [
        { name: 'p50', color: '#16a34a', points: r.buckets.map((b) => [mid(b), b.p50]) },
        { name: 'p99', color: '#dc2626', points: r.buckets.map((b) => [mid(b), b.p99]) },
      ],
    },
    {
      title: 'event-loop delay p99, ms · open handles',
      series: [
        { name: 'loop p99', color: '#7c3aed', points: at((s) => s.eventLoopP99Ms) },
        { name: 'handles', color: '#0891b2', points: at((s) => s.activeHandles) },
      ],
    },
    { title: 'Redis used_memory, MiB', series: [{ name: 'Redis', color: '#b91c1c', points: at((s) => s.redisUsedMiB) }] },
  ];
  const height = TOP + panels.length * (PANEL_H + GAP) + 20;
  const maxT = r.settings.durationS;
  const m = r.summary;
  const subtitle =
    `${r.context.startedAt.slice(0, 10)} · ${r.context.git.sha}${r.context.git.dirty ? ' (dirty)' : ''} · ${r.settings.durationS} s, ${r.settings.redis ? 'with' : 'without'} Redis · ` +
    `RSS ${m.rssSlopeMiBPerMin.toFixed(2)} MiB/min, heap ${m.heapSlopeMiBPerMin.toFixed(2)} MiB/min, p99 last/second ×${m.p99LastOverSecond.toFixed(2)}, ${m.non2xx} non-2xx`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${SVG_FONT}>`,
    `<title>${escapeXml('Soak: memory, latency and event-loop delay over time')}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    svgText(20, 28, 'Soak: does anything drift?', 'font-size="20" font-weight="700" fill="#111827"'),
    svgText(20, 48, subtitle, 'font-size="12" fill="#4b5563"'),
    ...panels.map((p, i) => panel(p, TOP + 20 + i * (PANEL_H + GAP), maxT)),
    svgText(LEFT, height - 8, `time, s (0 to ${maxT})`, 'font-size="11" fill="#6b7280"'),
    '</svg>',
    '',
  ].join('\n');
}
