// The service's /metrics as the tests and benches read it: one parser of the Prometheus text exposition and one
// scrape. A sample is named as Prometheus writes it, `name{label="value",...}`, its labels in any order.
// Shared with bench/, so the build compiles it (to dist/test/): it imports sources, never dist/.

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$/;
const SAMPLE_NAME = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export interface Sample {
  readonly name: string;
  /** Label values as written (escapes kept). */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

function labelsOf(written: string | undefined): Record<string, string> {
  return Object.fromEntries([...(written ?? '').matchAll(LABEL)].map((m) => [m[1]!, m[2]!]));
}

/** `name{a="1",b="2"}` with the labels sorted by name (just `name` without labels): one key however it was written. */
function keyOf(name: string, labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([label, value]) => `${label}="${value}"`);
  return pairs.length === 0 ? name : `${name}{${pairs.join(',')}}`;
}

/** The key of a sample named as Prometheus writes it, e.g. `inf_http_requests_total{status="200",route="x"}`. */
function sampleKey(sample: string): string {
  if (!SAMPLE_NAME.test(sample)) throw new Error(`not a sample name: ${sample}`);
  const { name, labels } = parseKey(sample);
  return keyOf(name, labels);
}

/** Every sample line of an exposition (comments and blank lines skipped). */
export function samplesOf(exposition: string): Sample[] {
  return exposition.split('\n').flatMap((line) => {
    const parsed = line.startsWith('#') ? null : SAMPLE_LINE.exec(line);
    return parsed === null ? [] : [{ name: parsed[1]!, labels: labelsOf(parsed[2]), value: Number(parsed[3]) }];
  });
}

/** Each family the exposition declares (`# TYPE name type`), with its type, whether or not it has samples yet. */
export function familiesOf(exposition: string): Map<string, string> {
  return new Map([...exposition.matchAll(/^# TYPE (\S+) (\S+)/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Every sample of an exposition by name and labels; read it with sampleIn() or delta(). */
export function parseMetrics(exposition: string): Map<string, number> {
  return new Map(samplesOf(exposition).map((s) => [keyOf(s.name, s.labels), s.value]));
}

/**
 * One sample of parsed metrics; `fallback` when it is absent (a labelled series appears on first use), else throws.
 * A sample named with only some of its series' labels is their sum, as PromQL's `sum()` of that selector: e.g.
 * `inf_cache_lookups_total{result="miss"}` adds up every model's misses.
 */
export function sampleIn(samples: ReadonlyMap<string, number>, sample: string, fallback?: number): number {
  const key = sampleKey(sample);
  const value = samples.get(key) ?? sumOfSeries(samples, key) ?? fallback;
  if (value === undefined) throw new Error(`no sample ${sample} in the scrape`);
  return value;
}

/** The sum of the samples whose name is the key's and whose labels include its labels; undefined when none does. */
function sumOfSeries(samples: ReadonlyMap<string, number>, key: string): number | undefined {
  const wanted = parseKey(key);
  let sum: number | undefined;
  for (const [other, value] of samples) {
    if (!other.startsWith(wanted.name)) continue;
    const { name, labels } = parseKey(other);
    if (name === wanted.name && Object.entries(wanted.labels).every(([label, v]) => labels[label] === v)) sum = (sum ?? 0) + value;
  }
  return sum;
}

function parseKey(key: string): { name: string; labels: Record<string, string> } {
  const parsed = SAMPLE_NAME.exec(key)!;
  return { name: parsed[1]!, labels: labelsOf(parsed[2]) };
}

/** One sample of an exposition, e.g. metric(text, 'inf_cache_lookups_total{result="miss"}'); see sampleIn(). */
export function metric(exposition: string, sample: string, fallback?: number): number {
  return sampleIn(parseMetrics(exposition), sample, fallback);
}

/** GETs the service's /metrics (with `headers`, e.g. a key when API_KEY_ROUTES protects it): the exposition's text. */
export async function exposition(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`GET ${url}/metrics answered ${res.status}`);
  return res.text();
}

/** GETs the service's /metrics: every sample, as parseMetrics() keys them. */
export async function scrapeMetrics(url: string, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  return parseMetrics(await exposition(url, headers));
}

/** Scrapes /metrics and reads the named samples; throws if one is absent. */
export async function scrape(url: string, ...samples: string[]): Promise<number[]> {
  const scraped = await scrapeMetrics(url);
  return samples.map((s) => sampleIn(scraped, s));
}

/** after[sample] - before[sample], treating a missing sample as 0. */
export function delta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, sample: string): number {
  return sampleIn(after, sample, 0) - sampleIn(before, sample, 0);
}

/** What the model did between two scrapes: runs, texts, and the mean batch size from inf_batch_size. */
export function modelWork(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): { runs: number; texts: number; meanBatch: number } {
  const runs = delta(before, after, 'inf_model_runs_total');
  const texts = delta(before, after, 'inf_inferred_texts_total');
  const count = delta(before, after, 'inf_batch_size_count');
  const sum = delta(before, after, 'inf_batch_size_sum');
  return { runs, texts, meanBatch: count > 0 ? sum / count : Number.NaN };
}
