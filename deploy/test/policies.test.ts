import { describe, expect, it } from 'vitest';
import { fixture, type K8sObject, ofKind, render } from './manifests.ts';
import {
  applicationSetSyncPolicies,
  backendIsolation,
  configThroughArgs,
  devAutoProdManual,
  drainFitsSpotNotice,
  externalDnsUpsertOnly,
  nonRoot,
  type Policy,
  pinnedImages,
  probes,
  prodSizing,
  resources,
  selectorsMatch,
} from './policies.ts';

const dev = () => render('deploy/k8s/overlays/dev');
const prod = () => render('deploy/k8s/overlays/prod');
/** One cluster per environment: its Argo CD (add-ons, its ApplicationSet) and its namespace's objects. */
const cluster = (env: 'dev' | 'prod') => [
  ...render(`deploy/argocd/clusters/${env}`),
  ...render(`deploy/k8s/overlays/${env}`),
];
const argo = () => [...render('deploy/argocd/clusters/dev'), ...render('deploy/argocd/clusters/prod')];
const both = () => [...dev(), ...prod()];

/** Each policy: the real manifests it must pass, a broken fixture and what it must say about it. */
const cases: { name: string; policy: Policy; real: () => K8sObject[]; broken: string; expected: RegExp[] }[] = [
  {
    name: 'every livehouse container has liveness /healthz and readiness /readyz on the admin port, none on the database',
    policy: probes,
    real: both,
    broken: 'no-probes.yaml',
    expected: [
      /has no readinessProbe/,
      /livenessProbe must GET \/healthz on the admin port/,
      /Deployment\/point: container app readinessProbe follows the shared database/,
      /Deployment\/point: container app startupProbe follows the shared database/,
    ],
  },
  {
    name: 'every container requests and limits CPU and memory',
    policy: resources,
    real: both,
    broken: 'no-resources.yaml',
    expected: [/Deployment\/user: container app has no limits.cpu/, /Job\/once: container job has no requests.memory/],
  },
  {
    name: 'every container runs as non-root, without privilege escalation, read-only, without capabilities',
    policy: nonRoot,
    real: both,
    broken: 'runs-as-root.yaml',
    expected: [/may run as root/, /runs as uid 0/, /allows privilege escalation/, /writable root/, /capabilities/],
  },
  {
    name: 'the config reaches every service through args and a generated ConfigMap with matching ports',
    policy: configThroughArgs,
    real: both,
    broken: 'config-not-through-args.yaml',
    expected: [
      /overrides the image's entrypoint/,
      /args must start with serve user --config/,
      /no hash suffix/,
      /http.port/,
    ],
  },
  {
    name: 'selectors match their templates, Services, PDBs, ServiceMonitors and HPA targets; no replicas under an HPA',
    policy: selectorsMatch,
    real: both,
    broken: 'mismatched-selectors.yaml',
    expected: [
      /Deployment\/user: selector does not match/,
      /Service\/user: selector matches no Deployment's pods/,
      /PodDisruptionBudget\/user: selector matches no pods/,
      /ServiceMonitor\/user: endpoint port admin is not a port of the selected Service/,
      /HorizontalPodAutoscaler\/user: scaleTargetRef names no Deployment/,
      /Deployment\/point: sets replicas/,
    ],
  },
  {
    name: 'every backend has a NetworkPolicy under a default deny, and no Ingress routes to a backend or admin port',
    policy: backendIsolation,
    real: both,
    broken: 'open-backend.yaml',
    expected: [
      /namespace lh: no default-deny/,
      /Deployment\/lh\/user: backend without a NetworkPolicy/,
      /NetworkPolicy\/lh\/point: ingress rule 0 admits every source/,
      /Ingress\/lh\/public: routes to backend user/,
      /Ingress\/lh\/public: routes to an admin port/,
    ],
  },
  {
    name: 'prod pins every image by tag or digest, never latest',
    policy: pinnedImages,
    real: prod,
    broken: 'unpinned-images.yaml',
    expected: [/container migrate image .*:latest is not pinned/, /container app image .*\/livehouse is not pinned/],
  },
  {
    name: 'prod backends request what they limit, 4 CPU / 4096Mi, with --workers auto',
    policy: prodSizing,
    real: prod,
    broken: 'burstable-prod.yaml',
    expected: [
      /cpu requests \(1\) differ from limits \(4\)/,
      /not sized 4 CPU \/ 4096Mi/,
      /does not run --workers auto/,
    ],
  },
  {
    name: 'the grace period covers the preStop pause and the drain, and fits a spot interruption notice',
    policy: drainFitsSpotNotice,
    real: both,
    broken: 'slow-drain.yaml',
    expected: [
      /Deployment\/user: no preStop pause/,
      /GracePeriodSeconds 20 < preStop 0 s \+ drain 30 s/,
      /300 does not fit/,
    ],
  },
  {
    name: 'dev services sync automatically with prune and self-heal; prod services do not',
    policy: devAutoProdManual,
    real: argo,
    broken: 'argo-prod-automated.yaml',
    expected: [/\[env=prod\]: prod must not sync automatically/, /livehouse-dev-extra: dev must sync automatically/],
  },
  {
    name: 'ExternalDNS is upsert-only, inside the delegated sub-zone, with a TXT owner id; Ingress hosts are inside it',
    policy: (objects) => externalDnsUpsertOnly(objects, ofKind(objects, 'Ingress')),
    real: () => cluster('prod'),
    broken: 'external-dns-sync.yaml',
    expected: [
      /policy is sync, not upsert-only/,
      /extraArgs override the policy/,
      /no domainFilters/,
      /no TXT registry/,
    ],
  },
];

describe('policies', () => {
  describe.each(cases)('$name', ({ policy, real, broken, expected }) => {
    it('when the rendered manifests are checked, then there is no violation', () => {
      expect(policy(real())).toEqual([]);
    });

    it(`when the broken fixture ${broken} is checked, then each of its faults is reported`, () => {
      const violations = policy(fixture(broken));
      for (const pattern of expected) expect(violations).toContainEqual(expect.stringMatching(pattern));
    });
  });

  it('when the dev cluster is checked, then its ExternalDNS is fenced to its own sub-zone and its hosts are in it', () => {
    const objects = cluster('dev');
    expect(externalDnsUpsertOnly(objects, ofKind(objects, 'Ingress'))).toEqual([]);
    const values = ofKind(objects, 'Application').find((a) => a.spec.source.chart === 'external-dns')?.spec.source.helm
      .valuesObject;
    expect(values.txtOwnerId).toBe('livehouse-dev');
    expect(values.domainFilters).toEqual(['k8s-dev.livehouse.example.com']);
    // prod's hosts are outside dev's zone: one ExternalDNS per cluster, each writing only its own names.
    expect(externalDnsUpsertOnly(objects, ofKind(prod(), 'Ingress'))).toContainEqual(expect.stringMatching(/outside/));
  });

  it('when an Ingress host lies outside the ExternalDNS zone, then it is reported', () => {
    const ingress = ofKind(prod(), 'Ingress').map((i) => ({
      ...i,
      spec: { ...i.spec, rules: [{ ...i.spec.rules[0], host: 'api.livehouse.example.org' }] },
    }));
    expect(externalDnsUpsertOnly(render('deploy/argocd/clusters/prod'), ingress)).toContainEqual(
      expect.stringMatching(/outside/),
    );
  });

  it('when the ApplicationSets are expanded, then they yield dev (automated) and prod (manual) Applications', () => {
    const byEnv = Object.fromEntries(
      ofKind(argo(), 'ApplicationSet').flatMap((s) => applicationSetSyncPolicies(s).map((a) => [a.env, a.syncPolicy])),
    );
    expect(byEnv.dev.automated).toEqual({ prune: true, selfHeal: true });
    expect(byEnv.prod.automated).toBeUndefined();
  });

  it('when the overlays are rendered, then no template placeholder is left', () => {
    for (const objects of [dev(), prod()]) expect(JSON.stringify(objects)).not.toMatch(/SERVICE/);
  });

  it('when the overlays are rendered, then both cover the same services, each with its full set of objects', () => {
    const names = (objects: K8sObject[], kind: string) =>
      ofKind(objects, kind)
        .filter((o) => o.metadata.labels?.['app.kubernetes.io/part-of'] === 'livehouse')
        // ingest's RTMP load balancer (an NLB Service) is its one extra object
        .filter((o) => o.spec?.type !== 'LoadBalancer')
        .map((o) => o.metadata.name)
        .sort();
    const services = names(dev(), 'Deployment');
    expect(services).toEqual(
      expect.arrayContaining([
        'auth',
        'bff',
        'chat',
        'contents',
        'point',
        'stamp',
        'thumbnail',
        'timeline',
        'user',
        'web',
      ]),
    );
    for (const objects of [dev(), prod()])
      for (const kind of [
        'Deployment',
        'Service',
        'ServiceAccount',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'ServiceMonitor',
      ])
        expect(names(objects, kind), `${kind}`).toEqual(services);
    expect(ofKind(prod(), 'Ingress').map((i) => i.metadata.name)).toEqual(['bff', 'edge', 'web']);
  });
});
