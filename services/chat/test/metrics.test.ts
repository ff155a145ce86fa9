import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { chatService } from '../src/index.ts';
import { connect, contentsService, liveStream, viewer } from './helpers.ts';

// The chat HPA scales on a custom metric that prometheus-adapter derives from a Prometheus series
// (issue 13, item 4): the series the adapter's rule selects must be one chat really exposes.
const root = resolve(import.meta.dirname, '../../..');
// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Doc = any;
const docs = (text: string): Doc[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Doc)
    .filter(Boolean);
/** As deploy/test renders them: `kubectl kustomize <overlay>`. */
const render = (dir: string) =>
  docs(execFileSync(process.env.KUBECTL ?? 'kubectl', ['kustomize', resolve(root, dir)], { encoding: 'utf8' }));

/** Target labels Prometheus adds to every series it scrapes through a ServiceMonitor (not the service's own). */
const TARGET_LABELS = new Set(['namespace', 'pod', 'service', 'endpoint', 'job', 'instance', 'container']);

interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}
function parseSeriesQuery(query: string): Selector {
  const m = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$/.exec(query);
  if (!m) throw new Error(`not a plain series selector: ${query}`);
  const matchers = [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map(
    ([, label, op, value]) => ({
      label: label as string,
      op: op as string,
      value: value as string,
    }),
  );
  return { metric: m[1] as string, matchers };
}
const holds = (op: string, value: string, actual: string | undefined) => {
  const v = actual ?? '';
  if (op === '=') return v === value;
  if (op === '!=') return v !== value;
  const re = new RegExp(`^(?:${value})$`);
  return op === '=~' ? re.test(v) : !re.test(v);
};

/** The samples of one metric in Prometheus text format, with their labels. */
function samples(text: string, metric: string) {
  const type = new RegExp(`^# TYPE ${metric} (\\w+)$`, 'm').exec(text)?.[1];
  const found: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${metric}(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
    found.push({ labels, value: Number(m[2]) });
  }
  return { type, found };
}

describe('the chat autoscaling metric', () => {
  let p: TestPlatform;
  const adapter = docs(readFileSync(resolve(root, 'deploy/argocd/apps/addons/prometheus-adapter.yaml'), 'utf8'))[0];
  const rules = adapter.spec.source.helm.valuesObject.rules.custom as Doc[];

  beforeAll(async () => {
    p = await startTestPlatform([contentsService, chatService], 'pglite');
  });
  afterAll(() => p?.close());

  it.each(['deploy/k8s/overlays/dev', 'deploy/k8s/overlays/prod'])(
    'when %s is rendered, then every Pods metric of the chat HPA comes from an adapter rule over a series chat exposes, counting open sockets',
    async (overlay) => {
      const objects = render(overlay);
      const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === 'chat');
      const wanted = (hpa.spec.metrics as Doc[]).filter((m) => m.type === 'Pods').map((m) => m.pods.metric.name);
      expect(wanted.length).toBeGreaterThan(0);

      // Prometheus scrapes chat's admin port at /metrics (that is where the target labels come from).
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'chat');
      const monitor = objects.find((o) => o.kind === 'ServiceMonitor' && o.metadata.name === 'chat');
      for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
        expect(service.metadata.labels[k]).toBe(v);
      const endpoint = monitor.spec.endpoints[0];
      expect((service.spec.ports as Doc[]).map((port) => port.name)).toContain(endpoint.port);
      expect(endpoint.path ?? '/metrics').toBe('/metrics');

      const { streamId } = await liveStream(p);
      const sockets = [await connect(p, streamId, viewer()), await connect(p, streamId)];
      const admin = p.services.get('chat')?.adminUrl as string;
      for (const name of wanted) {
        const rule = rules.find((r) => (r.name?.as ?? parseSeriesQuery(r.seriesQuery).metric) === name);
        expect(rule, `an adapter rule serving ${name}`).toBeDefined();
        const selector = parseSeriesQuery(rule.seriesQuery);
        const exposed = samples(await (await fetch(`${admin}${endpoint.path ?? '/metrics'}`)).text(), selector.metric);
        expect(exposed.type, `${selector.metric} on chat's /metrics`).toBe('gauge');
        const own = selector.matchers.filter((m) => !TARGET_LABELS.has(m.label));
        const selected = exposed.found.filter((s) => own.every((m) => holds(m.op, m.value, s.labels[m.label])));
        // Two open sockets on this pod: the series the HPA averages says 2.
        expect(selected.reduce((sum, s) => sum + s.value, 0)).toBe(2);
        // The labels the rule maps to resources come from the scrape, never from chat (they would be renamed).
        const resources = Object.keys(rule.resources?.overrides ?? {});
        expect(resources).toEqual(expect.arrayContaining(['namespace', 'pod']));
        for (const s of exposed.found) for (const label of resources) expect(s.labels[label]).toBeUndefined();
      }
      for (const s of sockets) await s.close();
      await expect
        .poll(
          async () =>
            samples(await (await fetch(`${admin}/metrics`)).text(), 'livehouse_chat_connections').found[0]?.value,
        )
        .toBe(0);
    },
  );
});

describe('the chat send → deliver metric', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform([contentsService, chatService], 'pglite');
  });
  afterAll(() => p?.close());

  const histogram = async () => {
    const text = await (await fetch(`${p.services.get('chat')?.adminUrl}/metrics`)).text();
    const count = samples(text, 'livehouse_chat_delivery_seconds_count').found[0]?.value;
    const inf = samples(text, 'livehouse_chat_delivery_seconds_bucket').found.find((s) => s.labels.le === '+Inf');
    return { type: /^# TYPE livehouse_chat_delivery_seconds (\w+)$/m.exec(text)?.[1], count, inf: inf?.value };
  };

  it('when messages are sent into a room with clients, then each message is observed once per fan-out, and a system item not at all', async () => {
    const { owner, channelId, streamId } = await liveStream(p);
    const before = await histogram();
    expect(before.type).toBe('histogram');
    const sender = await connect(p, streamId, viewer());
    const reader = await connect(p, streamId, viewer());
    // A stamp-free, moderator-free room: the only items are the three messages.
    for (const text of ['one', 'two', 'three']) expect((await sender.say(text)).type).toBe('ack');
    await reader.until(() => reader.items.filter((i) => i.type === 'message').length === 3, 10_000, 'three messages');
    await expect.poll(async () => (await histogram()).count).toBe((before.count ?? 0) + 3);
    expect((await histogram()).inf).toBe((before.count ?? 0) + 3);
    // A system item (settings) is not a message: not counted.
    const changed = await p.call('chat', 'PUT', `/channels/${channelId}/chat-settings`, {
      user: owner,
      body: { slowModeSeconds: 1 },
    });
    expect(changed.status).toBe(200);
    await reader.until(() => reader.items.some((i) => i.type === 'settings'), 10_000, 'the settings item');
    expect((await histogram()).count).toBe((before.count ?? 0) + 3);
    await sender.close();
    await reader.close();
  });
});
