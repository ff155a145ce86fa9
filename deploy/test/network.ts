import { type K8sObject, ofKind } from './manifests.ts';

/**
 * NetworkPolicy as the EKS VPC CNI enforces it: amazon-network-policy-controller-k8s resolves every rule into
 * addresses (pkg/resolvers/endpoints.go) and the node agent's eBPF programs compare packets with them at the pod's
 * veth, before kube-proxy rewrites a Service's ClusterIP. So an egress rule reaches a Service only when one of its
 * peers' podSelector matches the Service's own selector taken as a label set (`getMatchingServiceClusterIPs`:
 * `svcSelector.Matches(labels.Set(svc.Spec.Selector))`), whatever labels the pods behind it carry; a Service without
 * a selector (`kubernetes`) is reachable only by an ipBlock that holds its ClusterIP. The rendered objects plus the
 * cluster's own pods and Services (CoreDNS, Prometheus, the API server) make a small model cluster to ask.
 */

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

export interface Pod {
  /** `<kind>/<name>` of the workload that runs it. */
  owner: string;
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  ports: { name?: string; containerPort: number; protocol: string }[];
  spec: Any;
}

export interface Service {
  name: string;
  namespace: string;
  selector: Record<string, string> | undefined;
  clusterIP: string;
  ports: { name?: string; port: number; targetPort: string | number; protocol: string }[];
}

export interface Cluster {
  namespaces: { name: string; labels: Record<string, string> }[];
  pods: Pod[];
  services: Service[];
  policies: K8sObject[];
}

/** The `kubernetes` Service's ClusterIP: the first address of the service CIDR EKS picks for a 10.x VPC. */
export const KUBERNETES_SERVICE_IP = '172.20.0.1';

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Any[] } | null | undefined;

/** A LabelSelector against a label set; null/undefined selects everything, like the controller's nil selector. */
export function selects(selector: Selector, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const ok =
      e.operator === 'In'
        ? has && (e.values as string[]).includes(value as string)
        : e.operator === 'NotIn'
          ? !has || !(e.values as string[]).includes(value as string)
          : e.operator === 'Exists'
            ? has
            : e.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

const ipToInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/');
  if (!base || base.includes(':') || ip.includes(':')) return false;
  const size = 2 ** (32 - Number(bits ?? 32));
  const start = Math.floor(ipToInt(base) / size) * size;
  const n = ipToInt(ip);
  return n >= start && n < start + size;
}

const podSpecOf = (o: K8sObject): Any =>
  o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.spec : o.spec?.template?.spec;
const podLabelsOf = (o: K8sObject): Record<string, string> =>
  (o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template?.metadata?.labels : o.spec?.template?.metadata?.labels) ??
  {};

/** One pod per workload of the render, plus the pods and Services every EKS cluster with the add-ons has. */
export function modelCluster(objects: K8sObject[]): Cluster {
  const pods: Pod[] = [];
  let host = 10;
  const nextPodIp = () => `10.0.${Math.floor(host / 250)}.${(host++ % 250) + 1}`;
  for (const w of objects.filter((o) =>
    ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(o.kind),
  )) {
    const spec = podSpecOf(w);
    pods.push({
      owner: `${w.kind}/${w.metadata.name}`,
      namespace: w.metadata.namespace ?? 'default',
      labels: podLabelsOf(w),
      ip: nextPodIp(),
      ports: (spec?.containers ?? []).flatMap((c: Any) =>
        (c.ports ?? []).map((p: Any) => ({
          name: p.name,
          containerPort: p.containerPort,
          protocol: p.protocol ?? 'TCP',
        })),
      ),
      spec,
    });
  }
  const cluster: Pod[] = [
    {
      owner: 'Deployment/coredns',
      namespace: 'kube-system',
      labels: { 'k8s-app': 'kube-dns' },
      ip: nextPodIp(),
      ports: [
        { name: 'dns', containerPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
      ],
      spec: {},
    },
    {
      owner: 'StatefulSet/prometheus-kube-prometheus-stack-prometheus',
      namespace: 'monitoring',
      labels: { 'app.kubernetes.io/name': 'prometheus', prometheus: 'kube-prometheus-stack-prometheus' },
      ip: nextPodIp(),
      ports: [{ name: 'http-web', containerPort: 9090, protocol: 'TCP' }],
      spec: {},
    },
  ];
  pods.push(...cluster);
  let svcHost = 10;
  const services: Service[] = ofKind(objects, 'Service')
    .filter((s) => s.spec?.clusterIP !== 'None')
    .map((s) => ({
      name: s.metadata.name,
      namespace: s.metadata.namespace ?? 'default',
      selector: s.spec?.selector,
      clusterIP: `172.20.1.${svcHost++}`,
      ports: (s.spec?.ports ?? []).map((p: Any) => ({
        name: p.name,
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        protocol: p.protocol ?? 'TCP',
      })),
    }));
  services.push(
    {
      name: 'kube-dns',
      namespace: 'kube-system',
      selector: { 'k8s-app': 'kube-dns' },
      clusterIP: '172.20.0.10',
      ports: [
        { name: 'dns', port: 53, targetPort: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, targetPort: 53, protocol: 'TCP' },
      ],
    },
    // No selector: the API server's endpoints are the EKS control plane's ENIs, kept by EKS itself.
    {
      name: 'kubernetes',
      namespace: 'default',
      selector: undefined,
      clusterIP: KUBERNETES_SERVICE_IP,
      ports: [{ name: 'https', port: 443, targetPort: 443, protocol: 'TCP' }],
    },
  );
  const namespaceNames = new Set(['default', 'kube-system', 'monitoring', ...pods.map((p) => p.namespace)]);
  for (const n of ofKind(objects, 'Namespace')) namespaceNames.add(n.metadata.name);
  const namespaces = [...namespaceNames].map((name) => ({
    name,
    labels: {
      ...ofKind(objects, 'Namespace').find((n) => n.metadata.name === name)?.metadata.labels,
      'kubernetes.io/metadata.name': name,
    },
  }));
  return { namespaces, pods, services, policies: ofKind(objects, 'NetworkPolicy') };
}

export interface Destination {
  ip: string;
  port: number;
  protocol?: 'TCP' | 'UDP';
}

const policyTypes = (p: K8sObject): string[] =>
  p.spec?.policyTypes ?? (p.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress']);

function policiesFor(cluster: Cluster, pod: Pod, type: 'Ingress' | 'Egress') {
  return cluster.policies.filter(
    (p) =>
      (p.metadata.namespace ?? 'default') === pod.namespace &&
      policyTypes(p).includes(type) &&
      selects(p.spec?.podSelector ?? {}, pod.labels),
  );
}

function peerNamespaces(cluster: Cluster, policy: K8sObject, peer: Any): string[] {
  if (!peer.namespaceSelector) return [policy.metadata.namespace ?? 'default'];
  return cluster.namespaces.filter((n) => selects(peer.namespaceSelector, n.labels)).map((n) => n.name);
}

/** A rule's port (named or numeric) as a container port of the pod (`LookupContainerPortAndName`). */
function containerPort(pod: Pod, port: string | number, protocol: string): number | undefined {
  const found = pod.ports.find(
    (p) => p.protocol === protocol && (typeof port === 'number' ? p.containerPort === port : p.name === port),
  );
  if (found) return found.containerPort;
  return typeof port === 'number' ? port : undefined;
}

/** The Service port a rule's port names (`getMatchingServicePort`): by targetPort, else through a backing pod. */
function servicePort(cluster: Cluster, svc: Service, port: string | number, protocol: string): number | undefined {
  const direct = svc.ports.find(
    (p) => p.protocol === protocol && typeof p.targetPort === typeof port && String(p.targetPort) === String(port),
  );
  if (direct) return direct.port;
  if (!svc.selector) return undefined;
  // The controller asks the first pod behind the Service only.
  const pod = cluster.pods.find(
    (p) => p.namespace === svc.namespace && selects({ matchLabels: svc.selector }, p.labels),
  );
  if (!pod) return undefined;
  const named = pod.ports.find(
    (p) => p.protocol === protocol && (typeof port === 'number' ? p.containerPort === port : p.name === port),
  );
  if (!named) return undefined;
  return svc.ports.find(
    (p) =>
      p.protocol === protocol && (String(p.targetPort) === String(named.containerPort) || p.targetPort === named.name),
  )?.port;
}

function portAdmitted(
  ports: Any[] | undefined,
  resolve: (port: string | number, protocol: string) => number | undefined,
  dest: Required<Destination>,
) {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    const protocol = p.protocol ?? 'TCP';
    if (protocol !== dest.protocol) return false;
    if (p.port === undefined) return true;
    const start = resolve(p.port, protocol);
    if (start === undefined) return false;
    return dest.port >= start && dest.port <= (p.endPort ?? start);
  });
}

/** CIDR rules cannot resolve named ports: the controller drops them (`convertToPolicyInfoPortForCIDRs`). */
const numericOnly = (port: string | number) => (typeof port === 'number' ? port : undefined);

function ipBlockAdmits(peer: Any, ip: string) {
  return cidrContains(peer.ipBlock.cidr, ip) && !(peer.ipBlock.except ?? []).some((e: string) => cidrContains(e, ip));
}

/** Whether the pod may send to the destination (a pod IP, a Service ClusterIP or any other address). */
export function egressAllowed(cluster: Cluster, from: Pod, destination: Destination): boolean {
  const dest = { protocol: 'TCP' as const, ...destination };
  const policies = policiesFor(cluster, from, 'Egress');
  if (policies.length === 0) return true;
  return policies.some((policy) =>
    (policy.spec?.egress ?? []).some((rule: Any) => {
      if (!rule.to || rule.to.length === 0) return portAdmitted(rule.ports, numericOnly, dest);
      return rule.to.some((peer: Any) => {
        if (peer.ipBlock) return ipBlockAdmits(peer, dest.ip) && portAdmitted(rule.ports, numericOnly, dest);
        for (const ns of peerNamespaces(cluster, policy, peer)) {
          for (const pod of cluster.pods)
            if (pod.namespace === ns && pod.ip === dest.ip && selects(peer.podSelector, pod.labels))
              if (portAdmitted(rule.ports, (port, protocol) => containerPort(pod, port, protocol), dest)) return true;
          for (const svc of cluster.services)
            if (
              svc.namespace === ns &&
              svc.clusterIP === dest.ip &&
              selects(peer.podSelector ?? {}, svc.selector ?? {}) &&
              portAdmitted(rule.ports, (port, protocol) => servicePort(cluster, svc, port, protocol), dest)
            )
              return true;
        }
        return false;
      });
    }),
  );
}

/** Whether the pod accepts a connection from the source address on one of its ports. */
export function ingressAllowed(
  cluster: Cluster,
  to: Pod,
  source: string,
  destination: Omit<Destination, 'ip'>,
): boolean {
  const dest = { ip: to.ip, protocol: 'TCP' as const, ...destination };
  const policies = policiesFor(cluster, to, 'Ingress');
  if (policies.length === 0) return true;
  const resolve = (port: string | number, protocol: string) => containerPort(to, port, protocol);
  return policies.some((policy) =>
    (policy.spec?.ingress ?? []).some((rule: Any) => {
      if (!rule.from || rule.from.length === 0) return portAdmitted(rule.ports, resolve, dest);
      return rule.from.some((peer: Any) => {
        if (peer.ipBlock) return ipBlockAdmits(peer, source) && portAdmitted(rule.ports, resolve, dest);
        return peerNamespaces(cluster, policy, peer).some((ns) =>
          cluster.pods.some(
            (p) =>
              p.namespace === ns &&
              p.ip === source &&
              selects(peer.podSelector, p.labels) &&
              portAdmitted(rule.ports, resolve, dest),
          ),
        );
      });
    }),
  );
}

/** A call from one pod to a Service, as the pod makes it: DNS name → ClusterIP:port, then the pod behind it. */
export function serviceCallAllowed(cluster: Cluster, from: Pod, service: Service, port: number): string | undefined {
  if (!egressAllowed(cluster, from, { ip: service.clusterIP, port }))
    return `egress to ${service.name}'s ClusterIP:${port} denied`;
  const svcPort = service.ports.find((p) => p.port === port);
  if (!svcPort) return `${service.name} has no port ${port}`;
  const backends = cluster.pods.filter(
    (p) =>
      p.namespace === service.namespace && service.selector && selects({ matchLabels: service.selector }, p.labels),
  );
  if (backends.length === 0) return `${service.name} selects no pod`;
  for (const pod of backends) {
    const target =
      typeof svcPort.targetPort === 'number'
        ? svcPort.targetPort
        : pod.ports.find((p) => p.name === svcPort.targetPort)?.containerPort;
    if (target === undefined) return `${pod.owner} has no port ${svcPort.targetPort}`;
    if (!ingressAllowed(cluster, pod, from.ip, { port: target })) return `${pod.owner} denies ingress on ${target}`;
  }
  return undefined;
}
