// Numbers and Markdown for the micro benchmarks' tables. Kept apart from bench/lib so either can change alone.

/** Requests or sentences per second: no decimals from 100 up, one below. */
export function fmtRate(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

/** Milliseconds: two decimals below 10 ms, one below 100 ms, none above. */
export function fmtMs(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** CPU in cores (CPU seconds per second), or "n/a". */
export function fmtCores(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(2);
}

/** A ratio as a percentage with one decimal ("83.4%"). */
export function fmtPct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a';
}

/** A ratio as "×1.23". */
export function fmtRatio(v: number): string {
  return Number.isFinite(v) ? `×${v.toFixed(2)}` : 'n/a';
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
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `|${header.map((_, i) => (i < textColumns ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}
