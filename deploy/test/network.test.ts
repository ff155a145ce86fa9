import { parseConfig } from '@livehouse/kit';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { services } from '../../packages/cli/src/services.ts';
import { type K8sObject, ofKind, render } from './manifests.ts';
import { type Destination, egressAllowed, KUBERNETES_SERVICE_IP, modelCluster, type Pod } from './network.ts';

// biome-ignore lint/suspicious/noExplicitAny: configs are read field by field
type Any = any;

/**
 * What lies outside the namespace, with the addresses the README's prerequisites give it. S3 is reached through an
 * interface VPC endpoint (private DNS) whose network interfaces sit in the endpoint subnets 10.0.96.0/24.
 */
const outside: Record<string, Destination> = {
  's3 (interface endpoint)': { ip: '10.0.96.20', port: 443 },
  'remote image (https)': { ip: '203.0.113.10', port: 443 },
  'remote image (http)': { ip: '198.51.100.7', port: 80 },
  'EKS Pod Identity agent': { ip: '169.254.170.23', port: 80 },
  'instance metadata (IMDS)': { ip: '169.254.169.254', port: 80 },
  'Kubernetes API (kubernetes Service)': { ip: KUBERNETES_SERVICE_IP, port: 443 },
  'another host in the VPC (https)': { ip: '10.0.40.7', port: 443 },
  'PostgreSQL (RDS)': { ip: '10.0.40.8', port: 5432 },
  'Redis (ElastiCache)': { ip: '10.0.40.9', port: 6379 },
  'somewhere else on the internet (ssh)': { ip: '203.0.113.10', port: 22 },
};

/** A config value anywhere in the tree: `{ kind: 's3' }` storage (thumbnails, and archives when video lands). */
function hasS3Storage(value: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  if ((value as Any).kind === 's3') return true;
  return Object.values(value).some(hasS3Storage);
}

/** The service's config as it starts: the ConfigMap's file through the service's own schema (defaults filled). */
function configOf(objects: K8sObject[], pod: Pod): Any {
  const volume = pod.spec?.volumes?.find((v: Any) => v.name === 'config');
  const configMap = ofKind(objects, 'ConfigMap').find(
    (m) => m.metadata.name === volume?.configMap?.name && m.metadata.namespace === pod.namespace,
  );
  const name = pod.spec?.containers?.find((c: Any) => c.args?.[0] === 'serve')?.args?.[1];
  const service = services[name];
  if (!configMap || !service) return undefined;
  return parseConfig(parseYaml(configMap.data['application.yaml']), service.definition.config, {
    source: name,
    env: { LIVEHOUSE_INTERNAL_KEY: 'k'.repeat(32), LIVEHOUSE_DATABASE_URL: 'postgres://db/livehouse' },
  });
}

/** What a workload needs beyond its namespace, derived from what it runs, never from a list of names. */
function needs(objects: K8sObject[], pod: Pod): Set<string> {
  const out = new Set<string>();
  const config = configOf(objects, pod);
  const livehouse = pod.spec?.containers?.some((c: Any) => ['serve', 'migrate'].includes(c.args?.[0]));
  if (livehouse) {
    out.add('PostgreSQL (RDS)');
    out.add('Redis (ElastiCache)');
  }
  if (hasS3Storage(config)) {
    out.add('s3 (interface endpoint)');
    out.add('EKS Pod Identity agent'); // its credentials come from Pod Identity, never from static keys
  }
  // payment calls its provider's API (api.stripe.com) over HTTPS: a public address on 443, nothing else outside.
  if (config?.payment && config.payment.provider !== 'local') out.add('remote image (https)');
  if (config?.thumbnail && config.thumbnail.remoteImages?.enabled !== false) {
    out.add('remote image (https)');
    out.add('remote image (http)');
  }
  // Only a pod that mounts a service-account token can use the API; every other one must not reach it.
  const serviceAccount = ofKind(objects, 'ServiceAccount').find(
    (s) => s.metadata.name === (pod.spec?.serviceAccountName ?? 'default') && s.metadata.namespace === pod.namespace,
  );
  if ((pod.spec?.automountServiceAccountToken ?? serviceAccount?.automountServiceAccountToken ?? true) !== false)
    out.add('Kubernetes API (kubernetes Service)');
  return out;
}

describe.each(['dev', 'prod'])('egress of every %s workload, as the VPC CNI enforces it', (env) => {
  const objects = render(`deploy/k8s/overlays/${env}`);
  const cluster = modelCluster(objects);
  const workloads = cluster.pods.filter((p) => p.namespace === `livehouse-${env}`);

  it('when a workload connects outside the namespace, then exactly what it needs is allowed', () => {
    expect(workloads.length).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const pod of workloads) {
      const needed = needs(objects, pod);
      for (const [what, destination] of Object.entries(outside)) {
        const allowed = egressAllowed(cluster, pod, destination);
        if (allowed !== needed.has(what))
          wrong.push(
            `${pod.owner} → ${what} (${destination.ip}:${destination.port}): ${allowed ? 'allowed' : 'denied'}`,
          );
      }
    }
    expect(wrong).toEqual([]);
  });

  it('when the thumbnail service runs, then it needs S3, remote images and Pod Identity (the check above is not vacuous)', () => {
    const thumbnail = workloads.find((p) => p.owner === 'Deployment/thumbnail')!;
    expect([...needs(objects, thumbnail)]).toEqual(
      expect.arrayContaining(['s3 (interface endpoint)', 'EKS Pod Identity agent', 'remote image (https)']),
    );
  });
});

describe('the dev night scale-down', () => {
  it('when kubectl scales the Deployments, then it reaches the API server at the kubernetes Service’s ClusterIP', () => {
    const objects = render('deploy/k8s/overlays/dev');
    const cluster = modelCluster(objects);
    const jobs = cluster.pods.filter((p) => p.owner.startsWith('CronJob/'));
    expect(jobs.map((j) => j.owner).sort()).toEqual(['CronJob/scale-down-at-night', 'CronJob/scale-up-in-the-morning']);
    for (const job of jobs)
      expect(egressAllowed(cluster, job, { ip: KUBERNETES_SERVICE_IP, port: 443 }), job.owner).toBe(true);
  });
});
