// Latency against throughput as a self-contained SVG (no chart library, like chart.ts): one line per curve, each
// point labelled (e.g. with its concurrency); x from zero, y on a log scale (latencies span milliseconds to seconds).
import { escapeXml, SVG_FONT, svgText } from './format.js';

export interface Curve {
  label: string;
  points: { x: number; y: number; note?: string }[];
}

const WIDTH = 900;
const HEIGHT = 560;
const LEFT = 80;
const RIGHT = 260;
const TOP = 50;
const BOTTOM = 60;
const COLORS = ['#111827', '#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d'];

export function renderCurves(chart: { title: string; xLabel: string; yLabel: string; curves: readonly Curve[] }): string {
  const finite = (v: number) => Number.isFinite(v);
  const xs = chart.curves.flatMap((c) => c.points.map((p) => p.x)).filter(finite);
  const ys = chart.curves.flatMap((c) => c.points.map((p) => p.y)).filter((v) => finite(v) && v > 0);
  const maxX = Math.max(1e-9, ...xs) * 1.05;
  const minY = Math.max(1e-3, Math.min(...ys) / 1.2);
  const maxY = Math.max(minY * 10, ...ys) * 1.2;
  const w = WIDTH - LEFT - RIGHT;
  const h = HEIGHT - TOP - BOTTOM;
  const x = (v: number): number => LEFT + (v / maxX) * w;
  const y = (v: number): number => TOP + h - (Math.log(v / minY) / Math.log(maxY / minY)) * h;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ${SVG_FONT} role="img">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    svgText(LEFT, 28, chart.title, 'font-size="16" font-weight="600" fill="#111827"'),
    `<rect x="${LEFT}" y="${TOP}" width="${w}" height="${h}" fill="none" stroke="#e5e7eb"/>`,
    svgText(LEFT + w / 2, HEIGHT - 18, chart.xLabel, 'font-size="12" text-anchor="middle" fill="#374151"'),
    svgText(20, TOP + h / 2, chart.yLabel, `font-size="12" text-anchor="middle" fill="#374151" transform="rotate(-90 20 ${TOP + h / 2})"`),
  ];
  for (let i = 0; i <= 4; i++) {
    const vx = (maxX * i) / 4;
    const vy = minY * (maxY / minY) ** (i / 4);
    parts.push(svgText(x(vx), TOP + h + 16, vx.toPrecision(3), 'font-size="10" text-anchor="middle" fill="#6b7280"'));
    parts.push(svgText(LEFT - 6, y(vy) + 3, vy.toPrecision(3), 'font-size="10" text-anchor="end" fill="#6b7280"'));
  }
  chart.curves.forEach((curve, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = curve.points.filter((p) => finite(p.x) && finite(p.y) && p.y > 0);
    const dash = curve.label.startsWith('direct') ? ' stroke-dasharray="5 4"' : '';
    parts.push(`<g class="curve" data-label="${escapeXml(curve.label)}">`);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of points) {
      parts.push(`<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3" fill="${color}"/>`);
      if (p.note) parts.push(svgText(x(p.x) + 5, y(p.y) - 5, p.note, `font-size="9" fill="${color}"`));
    }
    parts.push('</g>');
    parts.push(
      `<line x1="${WIDTH - RIGHT + 20}" x2="${WIDTH - RIGHT + 44}" y1="${TOP + 14 + i * 20}" y2="${TOP + 14 + i * 20}" stroke="${color}" stroke-width="2"${dash}/>`,
    );
    parts.push(svgText(WIDTH - RIGHT + 50, TOP + 18 + i * 20, curve.label, 'font-size="11" fill="#111827"'));
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
