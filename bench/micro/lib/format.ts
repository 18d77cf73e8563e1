// Numbers and Markdown for the micro benchmarks' tables; the number formats are the bench's own.
import { escapeCell, fmtRps } from '../../lib/format.js';

export { fmtCores, fmtMs, fmtRatio } from '../../lib/format.js';

/** Requests or sentences per second: no decimals from 100 up, one below. */
export const fmtRate = fmtRps;

/** A ratio as a percentage with one decimal ("83.4%"). */
export function fmtPct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a';
}

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** A GFM table; the first `textColumns` columns are left-aligned, the rest (numbers) right-aligned. */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string[] {
  return [
    `| ${header.map(escapeCell).join(' | ')} |`,
    `|${header.map((_, i) => (i < textColumns ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(escapeCell).join(' | ')} |`),
  ];
}
