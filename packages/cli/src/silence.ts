import { parseArgs } from 'node:util';

/**
 * `livehouse silence`: maintenance without touching the alert rules. Creates, lists and expires Alertmanager
 * silences through its API v2 for a namespace, optionally one service of it (the alerts' `namespace` and `service`
 * labels). Reach Alertmanager with `kubectl port-forward -n monitoring svc/kube-prometheus-stack-alertmanager 9093`.
 */
const USAGE = `usage: livehouse silence <create|list|expire> [options]

  create --namespace NS [--service NAME] --for DURATION --comment TEXT [--author NAME]
                         silence NS's alerts (or one service's) for DURATION (30m, 2h, 1d); prints the silence id
  list [--namespace NS]  the active silences, one a line: id, until, matchers, comment
  expire ID…             end silences now (by id)
  expire --namespace NS [--service NAME]
                         end every active silence on exactly these matchers

  --alertmanager URL     default: $LIVEHOUSE_ALERTMANAGER_URL or http://127.0.0.1:9093`;

interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}
interface Silence {
  id: string;
  status: { state: 'active' | 'pending' | 'expired' };
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** At most a week: a forgotten silence must not hide a week of pages. */
const MAX_MS = 7 * UNITS.d!;

export function parseDuration(text: string): number {
  const match = /^([1-9]\d*)([mhd])$/.exec(text);
  const ms = match ? Number(match[1]) * (UNITS[match[2] as string] as number) : Number.NaN;
  if (!(ms > 0) || ms > MAX_MS)
    throw new SilenceUsageError(`--for must be like 30m, 2h or 1d (at most 7d), not '${text}'`);
  return ms;
}

export class SilenceUsageError extends Error {}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function matchersOf(namespace: string | undefined, service: string | undefined): Matcher[] {
  if (!namespace || !NAME.test(namespace)) throw new SilenceUsageError('--namespace must name a Kubernetes namespace');
  if (service !== undefined && !NAME.test(service)) throw new SilenceUsageError('--service must name a service');
  return [
    { name: 'namespace', value: namespace, isRegex: false, isEqual: true },
    ...(service ? [{ name: 'service', value: service, isRegex: false, isEqual: true }] : []),
  ];
}

const sameMatchers = (a: Matcher[], b: Matcher[]) =>
  a.length === b.length &&
  a.every((m) =>
    b.some((n) => n.name === m.name && n.value === m.value && n.isRegex === m.isRegex && n.isEqual === m.isEqual),
  );

async function api(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(new URL(`api/v2/${path}`, base.endsWith('/') ? base : `${base}/`), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`Alertmanager ${method} /api/v2/${path} answered ${res.status}: ${text.slice(0, 200)}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

const describeSilence = (s: Silence) =>
  `${s.id}\tuntil ${s.endsAt}\t${s.matchers.map((m) => `${m.name}=${m.value}`).join(',')}\t${s.comment}`;

/** Runs the command; returns the exit code. `out` receives what it prints (stdout by default). */
export async function silenceMain(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      alertmanager: { type: 'string' },
      namespace: { type: 'string' },
      service: { type: 'string' },
      for: { type: 'string' },
      comment: { type: 'string' },
      author: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...ids] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  const base = values.alertmanager ?? process.env.LIVEHOUSE_ALERTMANAGER_URL ?? 'http://127.0.0.1:9093';
  try {
    switch (command) {
      case 'create': {
        const matchers = matchersOf(values.namespace, values.service);
        const ms = parseDuration(values.for ?? '');
        if (!values.comment?.trim()) throw new SilenceUsageError('--comment must say why (it shows in Alertmanager)');
        const now = Date.now();
        const created = (await api(base, 'POST', 'silences', {
          matchers,
          startsAt: new Date(now).toISOString(),
          endsAt: new Date(now + ms).toISOString(),
          createdBy: values.author ?? process.env.USER ?? 'livehouse silence',
          comment: values.comment.trim(),
        })) as { silenceID: string };
        out(created.silenceID);
        return 0;
      }
      case 'list': {
        const all = (await api(base, 'GET', 'silences')) as Silence[];
        for (const s of all.filter((x) => x.status.state !== 'expired'))
          if (!values.namespace || s.matchers.some((m) => m.name === 'namespace' && m.value === values.namespace))
            out(describeSilence(s));
        return 0;
      }
      case 'expire': {
        let targets = ids;
        if (targets.length === 0) {
          const matchers = matchersOf(values.namespace, values.service);
          const all = (await api(base, 'GET', 'silences')) as Silence[];
          targets = all
            .filter((s) => s.status.state !== 'expired' && sameMatchers(s.matchers, matchers))
            .map((s) => s.id);
        }
        for (const id of targets) {
          if (!/^[0-9a-f-]{1,64}$/i.test(id)) throw new SilenceUsageError(`not a silence id: '${id}'`);
          await api(base, 'DELETE', `silence/${id}`);
          out(`expired ${id}`);
        }
        return 0;
      }
      default:
        throw new SilenceUsageError(`unknown silence command '${command}'`);
    }
  } catch (err) {
    if (err instanceof SilenceUsageError) {
      console.error(`livehouse silence: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`livehouse silence: ${(err as Error).message}`);
    return 1;
  }
}
