// Number and text formatting shared by the Markdown and the SVG, so both show the same figures.

/** Requests per second: no decimals from 100 up, one below. */
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

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Escapes a Markdown table cell. */
export function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
