import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

export interface Thresholds {
  latency: { p99Ms: number; endpoints: Record<string, { p99Ms: number }> };
  errorRate: number;
  ledger: { maxViolations: number; mustBeChecked: boolean };
  kill: { maxViewFailures: number };
}

const DEFAULTS: Thresholds = {
  latency: { p99Ms: 250, endpoints: {} },
  errorRate: 0.001,
  ledger: { maxViolations: 0, mustBeChecked: true },
  kill: { maxViewFailures: 0 },
};

function num(value: unknown, key: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`thresholds: ${key} must be a number ≥ 0, not ${JSON.stringify(value)}`);
  }
  return value;
}

/** Reads the thresholds file; a missing key takes its default, a wrong one stops with its name. */
export function parseThresholds(text: string): Thresholds {
  // biome-ignore lint/suspicious/noExplicitAny: checked key by key below
  const raw = (parse(text) ?? {}) as any;
  const endpoints: Record<string, { p99Ms: number }> = {};
  for (const [name, value] of Object.entries(raw.latency?.endpoints ?? {})) {
    const p99Ms = (value as { p99Ms?: unknown } | null)?.p99Ms;
    if (p99Ms === undefined) throw new Error(`thresholds: latency.endpoints.${name} needs p99Ms`);
    endpoints[name] = { p99Ms: num(p99Ms, `latency.endpoints.${name}.p99Ms`, 0) };
  }
  const mustBeChecked = raw.ledger?.mustBeChecked ?? DEFAULTS.ledger.mustBeChecked;
  if (typeof mustBeChecked !== 'boolean') throw new Error('thresholds: ledger.mustBeChecked must be true or false');
  return {
    latency: { p99Ms: num(raw.latency?.p99Ms, 'latency.p99Ms', DEFAULTS.latency.p99Ms), endpoints },
    errorRate: num(raw.errorRate, 'errorRate', DEFAULTS.errorRate),
    ledger: { maxViolations: num(raw.ledger?.maxViolations, 'ledger.maxViolations', 0), mustBeChecked },
    kill: { maxViewFailures: num(raw.kill?.maxViewFailures, 'kill.maxViewFailures', 0) },
  };
}

export async function loadThresholds(file: string) {
  return parseThresholds(await readFile(file, 'utf8'));
}

export interface Check {
  name: string;
  limit: string;
  actual: string;
  pass: boolean;
}

export interface VerdictInput {
  /** p99 per endpoint, plus '*' for all requests together. */
  p99: Record<string, number>;
  requests: number;
  errors: number;
  ledger: { checked: true; violations: number } | { checked: false; reason: string };
  kill?: { service: string; viewFailures: number };
}

const ms = (x: number) => `${Math.round(x)} ms`;

export function judge(t: Thresholds, input: VerdictInput): { pass: boolean; checks: Check[] } {
  const checks: Check[] = [];
  for (const [endpoint, p99] of Object.entries(input.p99)) {
    const limit = t.latency.endpoints[endpoint]?.p99Ms ?? t.latency.p99Ms;
    checks.push({
      name: endpoint === '*' ? 'p99 latency, all HTTP requests' : `p99 latency, ${endpoint}`,
      limit: `< ${ms(limit)}`,
      actual: ms(p99),
      pass: p99 < limit,
    });
  }
  const rate = input.requests === 0 ? 1 : input.errors / input.requests;
  checks.push({
    name: 'error rate',
    limit: `< ${(t.errorRate * 100).toFixed(2)} %`,
    actual: `${(rate * 100).toFixed(3)} % (${input.errors} of ${input.requests})`,
    pass: input.requests > 0 && rate < t.errorRate,
  });
  if (input.ledger.checked) {
    checks.push({
      name: 'ledger invariant violations',
      limit: `≤ ${t.ledger.maxViolations}`,
      actual: String(input.ledger.violations),
      pass: input.ledger.violations <= t.ledger.maxViolations,
    });
  } else {
    checks.push({
      name: 'ledger invariant violations',
      limit: t.ledger.mustBeChecked ? 'must be checked' : 'checked when possible',
      actual: `not checked: ${input.ledger.reason}`,
      pass: !t.ledger.mustBeChecked,
    });
  }
  if (input.kill) {
    checks.push({
      name: `5xx from views not requiring ${input.kill.service} (killed)`,
      limit: `≤ ${t.kill.maxViewFailures}`,
      actual: String(input.kill.viewFailures),
      pass: input.kill.viewFailures <= t.kill.maxViewFailures,
    });
  }
  return { pass: checks.every((c) => c.pass), checks };
}
