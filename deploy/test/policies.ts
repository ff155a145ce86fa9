import { parse as parseYaml } from 'yaml';
import { id, type K8sObject, ofKind } from './manifests.ts';

/**
 * Policies over rendered manifests. Each returns the violations it found, one line each naming the object;
 * an empty list means the manifests comply. The tests run each on the real overlays and on a broken fixture.
 */
export type Policy = (objects: K8sObject[]) => string[];

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

const CONFIG_PATH = '/etc/livehouse/application.yaml';
/** The public entries, the only services with an Ingress: the BFF (API), the edge (HLS for players), the web (pages). */
const PUBLIC_SERVICES = new Set(['bff', 'edge', 'web']);

const podSpecOf = (o: K8sObject): Any =>
  o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.spec : o.spec?.template?.spec;
const podLabelsOf = (o: K8sObject): Record<string, string> =>
  (o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.metadata?.labels : o.spec?.template?.metadata?.labels) ??
  {};
const workloads = (objects: K8sObject[]) =>
  objects.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(o.kind));
const containersOf = (spec: Any): Any[] => [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
/** Deployments that run a livehouse service (`livehouse serve <service>`). */
const livehouseDeployments = (objects: K8sObject[]) =>
  ofKind(objects, 'Deployment').filter((d) => podSpecOf(d)?.containers?.some((c: Any) => c.args?.[0] === 'serve'));
const serviceName = (d: K8sObject) => d.metadata.labels?.['app.kubernetes.io/name'] ?? d.metadata.name;
const sameNamespace = (a: K8sObject, b: K8sObject) => (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '');

function matches(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function portNumber(container: Any, port: string | number) {
  if (typeof port === 'number') return port;
  return container.ports?.find((p: Any) => p.name === port)?.containerPort as number | undefined;
}

/**
 * Every livehouse container has liveness /healthz and readiness /readyz on the admin port; no probe follows the
 * database (`/healthz/database`): every pod shares it, so its failover would restart or unready all at once.
 */
export const probes: Policy = (objects) => {
  const out: string[] = [];
  for (const d of livehouseDeployments(objects)) {
    for (const c of podSpecOf(d).containers as Any[]) {
      const admin = portNumber(c, 'admin');
      if (admin === undefined) out.push(`${id(d)}: container ${c.name} has no port named admin`);
      for (const [probe, path] of [
        ['livenessProbe', '/healthz'],
        ['readinessProbe', '/readyz'],
      ] as const) {
        const get = c[probe]?.httpGet;
        if (!get) out.push(`${id(d)}: container ${c.name} has no ${probe}`);
        else if (String(get.path).startsWith('/healthz/database'))
          out.push(`${id(d)}: container ${c.name} ${probe} follows the shared database (${get.path})`);
        else if (get.path !== path || portNumber(c, get.port) !== admin)
          out.push(`${id(d)}: container ${c.name} ${probe} must GET ${path} on the admin port`);
      }
      const startup = c.startupProbe?.httpGet?.path;
      if (startup && String(startup).startsWith('/healthz/database'))
        out.push(`${id(d)}: container ${c.name} startupProbe follows the shared database (${startup})`);
    }
  }
  return out;
};

/** Every container of every workload requests and limits CPU and memory. */
export const resources: Policy = (objects) => {
  const out: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of containersOf(podSpecOf(w))) {
      for (const kind of ['requests', 'limits'] as const)
        for (const r of ['cpu', 'memory'])
          if (c.resources?.[kind]?.[r] === undefined) out.push(`${id(w)}: container ${c.name} has no ${kind}.${r}`);
    }
  }
  return out;
};

/** Pods run as a non-root user; containers cannot escalate, write their root filesystem or keep capabilities. */
export const nonRoot: Policy = (objects) => {
  const out: string[] = [];
  for (const w of workloads(objects)) {
    const pod = podSpecOf(w);
    for (const c of containersOf(pod)) {
      const runAsNonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
      const runAsUser = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
      if (runAsNonRoot !== true) out.push(`${id(w)}: container ${c.name} may run as root (runAsNonRoot)`);
      if (runAsUser === 0) out.push(`${id(w)}: container ${c.name} runs as uid 0`);
      if (c.securityContext?.allowPrivilegeEscalation !== false)
        out.push(`${id(w)}: container ${c.name} allows privilege escalation`);
      if (c.securityContext?.readOnlyRootFilesystem !== true)
        out.push(`${id(w)}: container ${c.name} has a writable root filesystem`);
      if (!c.securityContext?.capabilities?.drop?.includes('ALL'))
        out.push(`${id(w)}: container ${c.name} does not drop all capabilities`);
    }
  }
  return out;
};

/**
 * The config reaches a livehouse service through its args (`serve <service> --config <file>`, the image's own
 * entrypoint), the file comes from a generated ConfigMap (hash-suffixed: a change rolls the pods), and the ports
 * in it are the container's ports.
 */
export const configThroughArgs: Policy = (objects) => {
  const out: string[] = [];
  for (const d of livehouseDeployments(objects)) {
    const pod = podSpecOf(d);
    const c = pod.containers.find((x: Any) => x.args?.[0] === 'serve');
    const name = serviceName(d);
    if (c.command) out.push(`${id(d)}: overrides the image's entrypoint with command`);
    if (c.args[1] !== name || c.args[2] !== '--config' || c.args[3] !== CONFIG_PATH)
      out.push(`${id(d)}: args must start with serve ${name} --config ${CONFIG_PATH}`);
    const mount = c.volumeMounts?.find((m: Any) => CONFIG_PATH.startsWith(`${m.mountPath}/`));
    const volume = pod.volumes?.find((v: Any) => v.name === mount?.name);
    const configMap = ofKind(objects, 'ConfigMap').find(
      (m) => m.metadata.name === volume?.configMap?.name && sameNamespace(m, d),
    );
    if (!configMap) {
      out.push(`${id(d)}: ${CONFIG_PATH} is not mounted from a ConfigMap of the same render`);
      continue;
    }
    if (!/-[a-z0-9]{10}$/.test(configMap.metadata.name))
      out.push(
        `${id(configMap)}: not generated by a configMapGenerator (no hash suffix): a change would not roll the pods`,
      );
    const text = configMap.data?.['application.yaml'];
    if (typeof text !== 'string') {
      out.push(`${id(configMap)}: has no application.yaml`);
      continue;
    }
    const config = parseYaml(text) as Any;
    if (config?.http?.port !== portNumber(c, 'http') || config?.http?.adminPort !== portNumber(c, 'admin'))
      out.push(`${id(configMap)}: http.port/adminPort differ from the container's http/admin ports`);
  }
  return out;
};

/**
 * Selectors select what they should: a Deployment's selector matches its template, and every Service, PDB,
 * NetworkPolicy, ServiceMonitor and HPA finds the workload or Service it is about.
 */
export const selectorsMatch: Policy = (objects) => {
  const out: string[] = [];
  const deployments = ofKind(objects, 'Deployment');
  const podsOf = (o: K8sObject) => workloads(objects).filter((d) => sameNamespace(d, o));
  for (const d of deployments)
    if (!matches(d.spec?.selector?.matchLabels, podLabelsOf(d)))
      out.push(`${id(d)}: selector does not match the pod template's labels`);
  for (const s of ofKind(objects, 'Service'))
    if (!podsOf(s).some((d) => matches(s.spec?.selector, podLabelsOf(d))))
      out.push(`${id(s)}: selector matches no Deployment's pods`);
  for (const p of [...ofKind(objects, 'PodDisruptionBudget'), ...ofKind(objects, 'NetworkPolicy')]) {
    const selector = p.kind === 'NetworkPolicy' ? p.spec?.podSelector?.matchLabels : p.spec?.selector?.matchLabels;
    if (p.kind === 'NetworkPolicy' && !selector) continue; // namespace-wide ({}) policies
    if (!podsOf(p).some((d) => matches(selector, podLabelsOf(d)))) out.push(`${id(p)}: selector matches no pods`);
  }
  for (const m of ofKind(objects, 'ServiceMonitor')) {
    const services = ofKind(objects, 'Service').filter(
      (s) => sameNamespace(s, m) && matches(m.spec?.selector?.matchLabels, s.metadata.labels ?? {}),
    );
    if (services.length === 0) out.push(`${id(m)}: selector matches no Service`);
    for (const e of m.spec?.endpoints ?? [])
      if (services.length > 0 && !services.every((s) => s.spec.ports?.some((p: Any) => p.name === e.port)))
        out.push(`${id(m)}: endpoint port ${e.port} is not a port of the selected Service`);
  }
  for (const h of ofKind(objects, 'HorizontalPodAutoscaler')) {
    const target = deployments.find((d) => sameNamespace(d, h) && d.metadata.name === h.spec?.scaleTargetRef?.name);
    if (!target) out.push(`${id(h)}: scaleTargetRef names no Deployment`);
    else if (target.spec.replicas !== undefined)
      out.push(`${id(target)}: sets replicas although ${id(h)} owns the count`);
  }
  return out;
};

/**
 * Every backend is reachable only as its NetworkPolicy says (every rule names its peers; an empty `from` would
 * allow everyone), the namespace denies by default, and no Ingress routes to a backend or to an admin port.
 */
export const backendIsolation: Policy = (objects) => {
  const out: string[] = [];
  const policies = ofKind(objects, 'NetworkPolicy');
  const namespaces = new Set(livehouseDeployments(objects).map((d) => d.metadata.namespace ?? ''));
  for (const ns of namespaces) {
    const denyAll = policies.some(
      (p) =>
        (p.metadata.namespace ?? '') === ns &&
        Object.keys(p.spec?.podSelector ?? {}).length === 0 &&
        p.spec?.policyTypes?.includes('Ingress') &&
        !p.spec?.ingress,
    );
    if (!denyAll) out.push(`namespace ${ns || '(none)'}: no default-deny NetworkPolicy`);
  }
  for (const d of livehouseDeployments(objects)) {
    const name = serviceName(d);
    if (PUBLIC_SERVICES.has(name)) continue;
    const own = policies.filter(
      (p) => sameNamespace(p, d) && matches(p.spec?.podSelector?.matchLabels, podLabelsOf(d)),
    );
    if (own.length === 0) out.push(`${id(d)}: backend without a NetworkPolicy`);
    for (const p of own)
      for (const [i, rule] of (p.spec?.ingress ?? []).entries())
        if (!rule.from || rule.from.length === 0) out.push(`${id(p)}: ingress rule ${i} admits every source`);
  }
  const services = ofKind(objects, 'Service');
  for (const ing of ofKind(objects, 'Ingress')) {
    const backends = (ing.spec?.rules ?? []).flatMap((r: Any) => r.http?.paths ?? []).map((p: Any) => p.backend);
    if (ing.spec?.defaultBackend) backends.push(ing.spec.defaultBackend);
    for (const b of backends) {
      const svc = b?.service;
      if (!svc) continue;
      const target = services.find((s) => sameNamespace(s, ing) && s.metadata.name === svc.name);
      const name = target ? (target.metadata.labels?.['app.kubernetes.io/name'] ?? svc.name) : svc.name;
      if (!PUBLIC_SERVICES.has(name)) out.push(`${id(ing)}: routes to backend ${svc.name}`);
      const port = svc.port?.name ?? target?.spec?.ports?.find((p: Any) => p.port === svc.port?.number)?.name;
      if (port === 'admin' || svc.port?.number === 9090) out.push(`${id(ing)}: routes to an admin port`);
    }
  }
  return out;
};

/** Every image is pinned by a tag or a digest, never `latest`. */
export const pinnedImages: Policy = (objects) => {
  const out: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of containersOf(podSpecOf(w))) {
      const image = String(c.image ?? '');
      if (image.includes('@sha256:')) continue;
      const tag = image.slice(image.lastIndexOf('/') + 1).split(':')[1];
      if (!tag || tag === 'latest') out.push(`${id(w)}: container ${c.name} image ${image} is not pinned`);
    }
  }
  return out;
};

const cpuCores = (q: string | number) =>
  typeof q === 'number' ? q : q.endsWith('m') ? Number.parseFloat(q) / 1000 : Number(q);

/**
 * Production sizing: every container of a livehouse pod has requests equal to its limits (Guaranteed QoS), the
 * service container gets 4 CPU / 4096Mi as the reference ran, and uses them with one worker per CPU.
 */
export const prodSizing: Policy = (objects) => {
  const out: string[] = [];
  for (const d of livehouseDeployments(objects)) {
    for (const c of containersOf(podSpecOf(d))) {
      const { requests = {}, limits = {} } = c.resources ?? {};
      for (const r of ['cpu', 'memory'])
        if (requests[r] === undefined || String(requests[r]) !== String(limits[r]))
          out.push(`${id(d)}: container ${c.name} ${r} requests (${requests[r]}) differ from limits (${limits[r]})`);
      if (c.args?.[0] === 'serve') {
        if (cpuCores(limits.cpu ?? 0) !== 4 || limits.memory !== '4096Mi')
          out.push(`${id(d)}: container ${c.name} is not sized 4 CPU / 4096Mi`);
        const w = c.args.indexOf('--workers');
        if (w < 0 || c.args[w + 1] !== 'auto') out.push(`${id(d)}: container ${c.name} does not run --workers auto`);
      }
    }
  }
  return out;
};

/**
 * The pod's grace period covers the preStop pause plus the service's drain (http.shutdownTimeoutMs) and still
 * fits in a spot instance's two-minute interruption notice (with 30 s left for the node's own drain).
 */
export const drainFitsSpotNotice: Policy = (objects) => {
  const out: string[] = [];
  for (const d of livehouseDeployments(objects)) {
    const pod = podSpecOf(d);
    const c = pod.containers.find((x: Any) => x.args?.[0] === 'serve');
    const grace = pod.terminationGracePeriodSeconds ?? 30;
    const pause = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    const volume = pod.volumes?.find((v: Any) => v.name === 'config');
    const configMap = ofKind(objects, 'ConfigMap').find((m) => m.metadata.name === volume?.configMap?.name);
    const config = parseYaml(configMap?.data?.['application.yaml'] ?? '{}') as Any;
    const drain = (config?.http?.shutdownTimeoutMs ?? 10_000) / 1000;
    if (pause === 0) out.push(`${id(d)}: no preStop pause: requests still routed to the pod would fail`);
    if (grace < pause + drain + 5)
      out.push(`${id(d)}: terminationGracePeriodSeconds ${grace} < preStop ${pause} s + drain ${drain} s + 5 s`);
    if (grace > 90) out.push(`${id(d)}: terminationGracePeriodSeconds ${grace} does not fit a spot notice (≤ 90 s)`);
  }
  return out;
};

/** Go-template subset used by the ApplicationSet's templatePatch: `{{- if .key }}…{{- end }}` and nothing else. */
function renderTemplatePatch(template: string, params: Record<string, unknown>): string {
  const rendered = template.replace(
    /\{\{-?\s*if\s+\.(\w+)\s*-?\}\}([\s\S]*?)\{\{-?\s*end\s*-?\}\}/g,
    (_, key: string, body: string) => (params[key] ? body : ''),
  );
  if (rendered.includes('{{')) throw new Error(`templatePatch uses more than {{ if .key }}: ${rendered}`);
  return rendered;
}

/**
 * The Applications an ApplicationSet produces, by environment: one per element of its list generators (alone or in
 * a matrix), or, without a list, the template's own `livehouse.dev/environment` label.
 */
export function applicationSetSyncPolicies(appSet: K8sObject): { env: string; syncPolicy: Any }[] {
  const lists = (appSet.spec.generators as Any[]).flatMap((g) => [
    ...(g.list ? [g.list] : []),
    ...(g.matrix?.generators ?? []).filter((x: Any) => x.list).map((x: Any) => x.list),
  ]);
  const elements: Record<string, unknown>[] = lists.flatMap((l: Any) => l.elements);
  if (elements.length === 0)
    elements.push({ env: appSet.spec.template.metadata?.labels?.['livehouse.dev/environment'] });
  return elements.map((params) => {
    const patch = appSet.spec.templatePatch
      ? (parseYaml(renderTemplatePatch(appSet.spec.templatePatch, params)) as Any)
      : null;
    return {
      env: String(params.env),
      syncPolicy: { ...appSet.spec.template.spec.syncPolicy, ...patch?.spec?.syncPolicy },
    };
  });
}

/** dev syncs by itself (with prune and self-heal); prod never does. */
export const devAutoProdManual: Policy = (objects) => {
  const out: string[] = [];
  const apps = [
    ...ofKind(objects, 'ApplicationSet').flatMap((s) =>
      applicationSetSyncPolicies(s).map((a) => ({
        name: `${id(s)}[env=${a.env}]`,
        env: a.env,
        syncPolicy: a.syncPolicy,
      })),
    ),
    ...ofKind(objects, 'Application')
      .filter((a) => /livehouse-(dev|prod)/.test(a.spec?.project ?? ''))
      .map((a) => ({ name: id(a), env: a.spec.project.replace('livehouse-', ''), syncPolicy: a.spec.syncPolicy })),
  ];
  const envs = new Set(apps.map((a) => a.env));
  for (const env of ['dev', 'prod']) if (!envs.has(env)) out.push(`no Application for ${env}`);
  for (const a of apps) {
    const automated = a.syncPolicy?.automated;
    if (a.env === 'dev' && !(automated?.prune === true && automated?.selfHeal === true))
      out.push(`${a.name}: dev must sync automatically with prune and selfHeal`);
    if (a.env === 'prod' && automated) out.push(`${a.name}: prod must not sync automatically`);
  }
  return out;
};

/**
 * ExternalDNS can never delete a record (upsert-only), stays inside the delegated sub-zone, owns its records
 * through a per-cluster TXT owner id, and every Ingress host lies inside that zone.
 */
export function externalDnsUpsertOnly(argo: K8sObject[], ingresses: K8sObject[] = []): string[] {
  const out: string[] = [];
  const apps = ofKind(argo, 'Application').filter((a) => a.spec?.source?.chart === 'external-dns');
  if (apps.length === 0) out.push('no external-dns Application');
  for (const a of apps) {
    const values = a.spec.source.helm?.valuesObject ?? {};
    const args: string[] = values.extraArgs ?? [];
    if (values.policy !== 'upsert-only')
      out.push(`${id(a)}: policy is ${values.policy ?? '(default: sync)'}, not upsert-only`);
    if (args.some((x) => x.startsWith('--policy') && x !== '--policy=upsert-only'))
      out.push(`${id(a)}: extraArgs override the policy`);
    const domains: string[] = values.domainFilters ?? [];
    if (domains.length === 0) out.push(`${id(a)}: no domainFilters: it could write to any zone`);
    if (values.registry !== 'txt' || !values.txtOwnerId) out.push(`${id(a)}: no TXT registry with an owner id`);
    for (const ing of ingresses) {
      const hosts = [
        ...(ing.spec?.rules ?? []).map((r: Any) => r.host),
        ...(ing.metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname']?.split(',') ?? []),
      ].filter(Boolean) as string[];
      for (const h of hosts)
        if (!domains.some((d) => h === d || h.endsWith(`.${d}`)))
          out.push(`${id(ing)}: host ${h} is outside ${domains}`);
    }
  }
  return out;
}
