/** Just enough of the Prometheus text format to read counters and gauges off /metrics. */

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (!Number.isNaN(value)) samples.push({ name: m[1]!, labels, value });
  }
  return samples;
}

/** Every admin endpoint's samples, by service; an endpoint that does not answer is left out. */
export type Scrape = Record<string, MetricSample[]>;

export async function scrapeAll(admin: Record<string, string>, timeoutMs = 3000): Promise<Scrape> {
  const entries = await Promise.all(
    Object.entries(admin).map(async ([name, url]) => {
      try {
        const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
        if (!res.ok) return undefined;
        return [name, parseMetrics(await res.text())] as const;
      } catch {
        return undefined;
      }
    }),
  );
  return Object.fromEntries(entries.filter((e) => e !== undefined));
}

/** Sums the samples named `name` whose labels match `where`, grouped by the label `by` (or all in ''). */
export function sumBy(
  samples: MetricSample[] | undefined,
  name: string,
  by?: string | ((labels: Record<string, string>) => string),
  where: (labels: Record<string, string>) => boolean = () => true,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples ?? []) {
    if (s.name !== name || !where(s.labels)) continue;
    const key = by === undefined ? '' : typeof by === 'string' ? (s.labels[by] ?? '') : by(s.labels);
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** after − before per key (a key missing before counts from 0). */
export function delta(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) out.set(k, v - (before.get(k) ?? 0));
  return out;
}

/** The first value of a metric found on any endpoint (process metrics live on one service's registry). */
export function firstValue(scrape: Scrape, name: string): number | undefined {
  for (const samples of Object.values(scrape)) {
    const s = samples.find((x) => x.name === name);
    if (s) return s.value;
  }
  return undefined;
}
