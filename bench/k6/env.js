// Settings of the k6 scripts from `-e NAME=value`, checked when the script loads.

/** A positive number from the environment, or the default; a bad value fails at init, not mid-run. */
export function positive(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}
