// Number and text formatting of every bench report (Markdown and SVG), so all show the same figures the same way.

/** Requests or sentences per second: no decimals from 100 up, one below. */
export function fmtRps(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

/** Milliseconds with two significant decimals below 10 ms. */
export function fmtMs(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** CPU use in cores, or "n/a" where it was not measured. */
export function fmtCores(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(2);
}

/** A ratio as "×12.3", "×1.23" or "×0.0012" (two significant digits below 0.1), or "n/a". */
export function fmtRatio(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return `×${v >= 10 ? v.toFixed(1) : v >= 0.1 || v === 0 ? v.toFixed(2) : v.toPrecision(2)}`;
}

/** A ratio as a percentage with one decimal ("83.4%"). */
export function fmtPct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a';
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The font of the benches' SVG charts, as an attribute. */
export const SVG_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** An SVG <text> element with its content escaped. */
export function svgText(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x}" y="${y}" ${attrs}>${escapeXml(content)}</text>`;
}

/** Escapes a Markdown table cell. */
export function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A GFM table; the first `textColumns` columns are left-aligned, the rest (numbers) right-aligned. */
export function mdTable(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string[] {
  return [
    `| ${header.map(escapeCell).join(' | ')} |`,
    `|${header.map((_, i) => (i < textColumns ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(escapeCell).join(' | ')} |`),
  ];
}
