import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import {
  Identifier,
  LabelMatchers,
  LabelName,
  MatchOp,
  parser,
  StringLiteral,
  UnquotedLabelMatcher,
  VectorSelector,
} from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '../../packages/cli/src/services.ts';
import { ofKind, render, repoRoot } from './manifests.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

/** Series Prometheus makes itself, not a service. */
const PROMETHEUS_OWN = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/**
 * The series an expression selects, read with Prometheus' own PromQL grammar (lezer-promql): each metric name, with
 * the service when the selector names one exactly (`service="point"`).
 */
function selectors(expr: string): { name: string; service?: string }[] {
  const tree = parser.parse(expr);
  const found: { name: string; service?: string }[] = [];
  const text = (n: { from: number; to: number } | null | undefined) => (n ? expr.slice(n.from, n.to) : '');
  let error = false;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) error = true;
      if (node.type.id === VectorSelector) {
        const id = node.node.getChild(Identifier);
        if (!id) return;
        const service = node.node
          .getChild(LabelMatchers)
          ?.getChildren(UnquotedLabelMatcher)
          .find((m) => text(m.getChild(LabelName)) === 'service' && text(m.getChild(MatchOp)) === '=');
        const value = service && JSON.parse(text(service.getChild(StringLiteral)));
        found.push({ name: text(id), ...(value && { service: value as string }) });
      }
    },
  });
  if (error) throw new Error(`not PromQL: ${expr}`);
  return found;
}
const metricNames = (expr: string) => selectors(expr).map((s) => s.name);

/** A histogram's series carry _bucket/_count/_sum; /metrics declares the base name in # TYPE. */
const baseName = (name: string) => name.replace(/_(bucket|count|sum)$/, '');

const rules = ofKind(render('deploy/k8s/monitoring'), 'PrometheusRule').flatMap((r) =>
  (r.spec.groups as Any[]).flatMap((g) => g.rules as Any[]),
);

describe('alerts over the services’ real metrics', () => {
  let platform: TestPlatform;
  const exposed = new Map<string, Set<string>>();
  beforeAll(async () => {
    platform = await startTestPlatform(
      Object.values(services).map((s) => s.definition),
      'pglite',
      // RTMP on a free port: 1935 may be another run's (or a 'livehouse up' on the same machine).
      { config: (name) => (name === 'ingest' ? { ingest: { rtmp: { port: 0 } } } : {}) },
    );
    for (const [name, running] of platform.services) {
      const text = await (await fetch(`${running.adminUrl}/metrics`)).text();
      exposed.set(name, new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string)));
    }
  }, 120_000);
  afterAll(() => platform?.close());

  it('when the rules are parsed, then each is PromQL selecting at least one metric, with a severity', () => {
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(metricNames(rule.expr).length, rule.alert).toBeGreaterThan(0);
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
    }
  });

  it('when a rule names a metric, then a running service exposes it on /metrics', () => {
    // Every service under services/ runs here: a metric only declared in source, or only in a rule, fails.
    expect([...exposed.keys()].sort()).toEqual(
      readdirSync(join(repoRoot, 'services'), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort(),
    );
    const unknown: string[] = [];
    for (const rule of rules)
      for (const name of metricNames(rule.expr).map(baseName)) {
        if (PROMETHEUS_OWN.has(name)) continue;
        if (![...exposed.values()].some((set) => set.has(name))) unknown.push(`${rule.alert}: ${name}`);
      }
    expect(unknown).toEqual([]);
  });

  it('when a rule selects one service’s series, then that very service exposes the metric', () => {
    const wrong: string[] = [];
    for (const rule of rules)
      for (const { name, service } of selectors(rule.expr)) {
        if (!service || !services[service]) continue;
        if (!exposed.get(service)?.has(baseName(name))) wrong.push(`${rule.alert}: ${service} has no ${name}`);
      }
    expect(wrong).toEqual([]);
    expect(selectors('max(livehouse_outbox_lag_seconds{namespace=~"x", service="point"}) > 1')).toEqual([
      { name: 'livehouse_outbox_lag_seconds', service: 'point' },
    ]);
  });

  it('when a rule names a metric nobody exposes, then the check above would report it', () => {
    expect(metricNames('sum(rate(livehouse_no_such_metric_total[5m])) > 0')).toEqual([
      'livehouse_no_such_metric_total',
    ]);
    expect([...exposed.values()].some((set) => set.has('livehouse_no_such_metric_total'))).toBe(false);
    expect([...exposed.values()].some((set) => set.has('http_request_duration_seconds'))).toBe(true);
  });
});
