import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { id, type K8sObject, ofKind, render, repoRoot } from './manifests.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

/** Both clusters' Argo CD (one cluster per environment). */
const argo = () => [...render('deploy/argocd/clusters/dev'), ...render('deploy/argocd/clusters/prod')];
const envs = ['dev', 'prod'] as const;
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const deploySection = readme.slice(readme.indexOf('## Deploy to Kubernetes'));
const wave = (o: K8sObject) => Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
const syncOptions = (a: K8sObject): string[] =>
  (a.kind === 'ApplicationSet' ? a.spec.template.spec.syncPolicy : a.spec.syncPolicy)?.syncOptions ?? [];
const retryOf = (a: K8sObject) =>
  (a.kind === 'ApplicationSet' ? a.spec.template.spec.syncPolicy : a.spec.syncPolicy)?.retry;
const groupOf = (o: { apiVersion: string }): string =>
  o.apiVersion.includes('/') ? (o.apiVersion.split('/')[0] ?? '') : '';

/** The CRDs each add-on chart installs (the API groups its charts define). */
const crdsByChart: Record<string, string[]> = {
  karpenter: ['karpenter.sh', 'karpenter.k8s.aws'],
  'kube-prometheus-stack': ['monitoring.coreos.com'],
  'external-secrets': ['external-secrets.io'],
  'aws-load-balancer-controller': ['elbv2.k8s.aws'],
};
const builtIn = (group: string) => group === '' || /(^|\.)k8s\.io$|^(apps|batch|policy|autoscaling)$/.test(group);

/** What an Application or ApplicationSet creates: its rendered path(s), or its chart's extra manifests. */
function objectsOf(app: K8sObject): K8sObject[] {
  if (app.kind === 'ApplicationSet')
    return envs.flatMap((env) => (app.metadata.name.endsWith(env) ? render(`deploy/k8s/overlays/${env}`) : []));
  if (app.spec.source?.path) return render(app.spec.source.path);
  return app.spec.source?.helm?.valuesObject?.extraManifests ?? [];
}

describe('bootstrap from an empty cluster: waves, retries, CRDs before their users', () => {
  const apps = [...ofKind(argo(), 'Application'), ...ofKind(argo(), 'ApplicationSet')];
  const providers = ofKind(argo(), 'Application').flatMap((a) =>
    (crdsByChart[a.spec.source?.chart] ?? []).map((group) => ({ group, app: a })),
  );

  it('when an Application creates custom resources, then their CRDs come from an earlier wave and it skips the dry run', () => {
    const problems: string[] = [];
    for (const app of apps) {
      const groups = new Set(
        objectsOf(app)
          .map(groupOf)
          .filter((g) => !builtIn(g)),
      );
      for (const group of groups) {
        const provider = providers.find((p) => p.group === group);
        if (!provider) problems.push(`${id(app)}: no add-on installs the CRDs of ${group}`);
        else if (provider.app !== app) {
          if (wave(provider.app) >= wave(app))
            problems.push(
              `${id(app)} (wave ${wave(app)}) uses ${group} from ${id(provider.app)} (wave ${wave(provider.app)})`,
            );
          if (!syncOptions(app).includes('SkipDryRunOnMissingResource=true'))
            problems.push(`${id(app)}: uses ${group} without SkipDryRunOnMissingResource=true`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('when a sync fails (a CRD or webhook not answering yet), then every Application retries with backoff', () => {
    for (const app of apps) {
      const retry = retryOf(app);
      expect(retry?.limit, id(app)).toBeGreaterThanOrEqual(5);
      expect(retry?.backoff?.factor, id(app)).toBeGreaterThanOrEqual(2);
    }
  });

  it('when the projects are read, then they come before every Application', () => {
    const first = Math.min(...apps.map(wave));
    for (const project of ofKind(argo(), 'AppProject')) expect(wave(project), id(project)).toBeLessThan(first);
  });

  it('when the root waits for each wave, then Argo CD can judge an Application’s health (values for its Helm chart)', () => {
    const values = parseYaml(readFileSync(join(repoRoot, 'deploy/argocd/values.yaml'), 'utf8')) as Any;
    expect(values.configs.cm['resource.customizations.health.argoproj.io_Application']).toMatch(/obj\.status\.health/);
    expect(deploySection).toContain('-f deploy/argocd/values.yaml');
  });

  it('when a volume names a StorageClass, then an earlier wave creates it with the EBS CSI driver, which the README installs', () => {
    const classes = apps.flatMap((a) => ofKind(objectsOf(a), 'StorageClass').map((c) => ({ c, app: a })));
    const claims = JSON.stringify(ofKind(argo(), 'Application').map((a) => a.spec.source?.helm?.valuesObject));
    const named = [...claims.matchAll(/"storageClassName":"([^"]+)"/g)].map((m) => m[1]);
    expect(named).toContain('gp3');
    for (const name of named) {
      const found = classes.find((x) => x.c.metadata.name === name);
      expect(found, `StorageClass ${name}`).toBeDefined();
      expect(found!.c.provisioner).toBe('ebs.csi.aws.com');
      const user = ofKind(argo(), 'Application').find((a) =>
        JSON.stringify(a.spec.source?.helm?.valuesObject ?? {}).includes(`"storageClassName":"${name}"`),
      )!;
      expect(wave(found!.app)).toBeLessThan(wave(user));
    }
    expect(deploySection).toMatch(/aws-ebs-csi-driver/);
  });

  it.each(envs)(
    'when the %s namespace is rendered, then Argo CD never prunes it and the ALB readiness gate is injected',
    (env) => {
      const [ns] = ofKind(render(`deploy/k8s/overlays/${env}`), 'Namespace');
      expect(ns!.metadata.annotations?.['argocd.argoproj.io/sync-options']).toMatch(/Prune=false/);
      expect(ns!.metadata.labels?.['elbv2.k8s.aws/pod-readiness-gate-inject']).toBe('enabled');
    },
  );
});

describe('the AWS Load Balancer Controller under self-heal', () => {
  it('when the chart regenerates its webhook certificate, then Argo CD ignores the difference instead of rotating it', () => {
    const app = ofKind(argo(), 'Application').find((a) => a.spec.source?.chart === 'aws-load-balancer-controller')!;
    const ignored = app.spec.ignoreDifferences as Any[];
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'])
      expect(ignored.find((i) => i.kind === kind)?.jqPathExpressions?.join()).toMatch(/caBundle/);
    expect(ignored.find((i) => i.kind === 'Secret')?.jsonPointers).toContain('/data');
    expect(syncOptions(app)).toContain('RespectIgnoreDifferences=true');
  });
});

describe('Alertmanager pages someone', () => {
  const app = ofKind(argo(), 'Application').find((a) => a.spec.source?.chart === 'kube-prometheus-stack')!;
  const config = app.spec.source.helm.valuesObject.alertmanager?.config;
  it('when an alert fires, then the default route and every route but the heartbeat reach a receiver that sends', () => {
    expect(config?.route?.receiver).toBeDefined();
    const receivers = new Map((config.receivers as Any[]).map((r) => [r.name, r]));
    const sends = (name: string) =>
      Object.keys(receivers.get(name) ?? {}).some((k) => k.endsWith('_configs') && receivers.get(name)[k].length > 0);
    expect(sends(config.route.receiver), `default receiver ${config.route.receiver}`).toBe(true);
    for (const route of config.route.routes ?? []) {
      if (route.receiver === 'null') expect(route.matchers.join()).toMatch(/Watchdog|InfoInhibitor/);
      else expect(sends(route.receiver), route.receiver).toBe(true);
    }
  });
});

describe.each(envs)('secrets in %s: External Secrets Operator, never a value in git', (env) => {
  const objects = render(`deploy/k8s/overlays/${env}`);
  it('when a pod reads a Secret, then an ExternalSecret of its namespace makes that key from this environment’s store', () => {
    const missing: string[] = [];
    const externals = ofKind(objects, 'ExternalSecret');
    for (const w of objects.filter((o) => ['Deployment', 'Job', 'CronJob'].includes(o.kind))) {
      const pod = w.kind === 'CronJob' ? w.spec.jobTemplate.spec.template.spec : w.spec.template.spec;
      for (const c of [...(pod.initContainers ?? []), ...pod.containers])
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          const made = externals.find(
            (x) =>
              x.metadata.namespace === w.metadata.namespace &&
              (x.spec.target?.name ?? x.metadata.name) === ref.name &&
              (x.spec.data as Any[]).some((d) => d.secretKey === ref.key),
          );
          if (!made) missing.push(`${id(w)} ${c.name}: ${ref.name}/${ref.key}`);
        }
    }
    expect(missing).toEqual([]);
    const stores = ofKind(objects, 'SecretStore');
    for (const x of externals) {
      const store = stores.find(
        (s) => s.metadata.name === x.spec.secretStoreRef.name && s.metadata.namespace === x.metadata.namespace,
      );
      expect(store, `${id(x)} store`).toBeDefined();
      expect(store!.spec.provider.aws.prefix).toBe(`livehouse/${env}/`);
      expect(store!.spec.provider.aws.role).toMatch(new RegExp(`livehouse-${env}-`));
    }
    expect(ofKind(objects, 'Secret')).toEqual([]);
  });
});

describe('the README’s secrets step', () => {
  it('when an operator follows it, then no secret value is typed into kubectl', () => {
    expect(deploySection).not.toMatch(/kubectl[^\n]*create secret/);
    expect(deploySection).toMatch(/aws secretsmanager create-secret/);
  });
});

describe('dev sizing from measurements (docs/deploy.md, Sizing)', () => {
  it('when thumbnail renders two large uploads in dev, then its memory limit covers the measured ~432 MiB peak', () => {
    const d = ofKind(render('deploy/k8s/overlays/dev'), 'Deployment').find((x) => x.metadata.name === 'thumbnail')!;
    const memory = String(d.spec.template.spec.containers[0].resources.limits.memory);
    const mib = Number.parseInt(memory, 10) * (memory.endsWith('Gi') ? 1024 : 1);
    expect(mib).toBeGreaterThanOrEqual(432 * 1.15);
    expect(d.spec.template.spec.containers[0].resources.requests.memory).toBe(memory);
  });
});
