import { parseArgs } from 'node:util';

export const USAGE = `usage: npm run loadtest -- [options]

  --target URL          the public API (BFF) to load, e.g. http://127.0.0.1:8080 (a running 'livehouse up');
                        default: start the embedded platform in a child process on free ports
  --users N             users online the arrivals aim at: N ÷ 15 s arrive per second in the hold (default 100)
  --duration D          arrivals: ramp up + hold + ramp down, e.g. 60s, 2m (default 60s); sessions in
                        flight then finish
  --kill SVC@T          stop one backend's API server T into the run, e.g. user@30s (embedded platform only)
  --db URL              embedded platform only: postgres://… runs it on that PostgreSQL server (a fresh
                        database, dropped afterwards) instead of PGlite
  --timeout-scale N     embedded platform only: multiply the BFF's view budget and section timeouts by N, for
                        a machine loaded by other work (its tests); figures are then not production's (default 1)
  --data DIR            with --target: the platform's data folder, for the internal key that reconciliation
                        needs (default .livehouse; or set LIVEHOUSE_INTERNAL_KEY)
  --point-url URL       with --target: the point service's API, for reconciliation (default: port 7005 on
                        the target's host)
  --admin LIST          with --target: admin URLs to scrape, name=url,… (default: the 'livehouse up' admin
                        ports on the target's host); 'none' to scrape nothing
  --thresholds FILE     pass/fail thresholds (default loadtest/thresholds.yaml)
  --out DIR             where loadtest-report.html, loadtest-chart.png and loadtest-result.json go
                        (default: loadtest/out)
  --no-chat             leave the chatters (WebSocket rooms) out of the mix
  --seed N              random seed of the mix (default: random)
  --render FILE         only draw the report again from a loadtest-result.json (into --out)
  -h, --help`;

export interface Options {
  target: string | undefined;
  users: number;
  durationS: number;
  kill: { service: string; atS: number } | undefined;
  db: string | undefined;
  timeoutScale: number;
  dataDir: string;
  pointUrl: string | undefined;
  admin: Record<string, string> | 'none' | undefined;
  thresholds: string;
  out: string;
  seed: number;
  chat: boolean;
  render: string | undefined;
}

export class UsageError extends Error {}

/** "60s", "2m", "90" (seconds), "1m30s" → seconds. */
export function parseDuration(text: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  if (!m || (m[1] === undefined && m[2] === undefined)) {
    throw new UsageError(`'${text}' is not a duration: write e.g. 60s, 2m or 1m30s`);
  }
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

function parseKill(text: string) {
  const [service, at] = text.split('@');
  if (!service || !at) throw new UsageError(`--kill wants SERVICE@TIME, e.g. user@30s, not '${text}'`);
  return { service, atS: parseDuration(at) };
}

function parseAdmin(text: string) {
  if (text === 'none') return 'none' as const;
  const entries = text.split(',').map((pair) => {
    const [name, url] = pair.split('=');
    if (!name || !url?.startsWith('http')) throw new UsageError(`--admin wants name=url,…, not '${pair}'`);
    return [name, url.replace(/\/$/, '')] as const;
  });
  return Object.fromEntries(entries);
}

function positiveInt(text: string, name: string) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} wants a whole number ≥ 1, not '${text}'`);
  return n;
}

export function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      users: { type: 'string', default: '100' },
      duration: { type: 'string', default: '60s' },
      kill: { type: 'string' },
      db: { type: 'string' },
      'timeout-scale': { type: 'string' },
      data: { type: 'string', default: '.livehouse' },
      'point-url': { type: 'string' },
      admin: { type: 'string' },
      thresholds: { type: 'string', default: 'loadtest/thresholds.yaml' },
      out: { type: 'string', default: 'loadtest/out' },
      seed: { type: 'string' },
      'no-chat': { type: 'boolean', default: false },
      render: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const durationS = parseDuration(values.duration);
  if (durationS < 10) throw new UsageError('--duration must be at least 10s (ramp up, hold, ramp down)');
  const kill = values.kill ? parseKill(values.kill) : undefined;
  if (kill && values.target) {
    throw new UsageError('--kill stops a server inside the embedded platform: leave out --target');
  }
  if (kill && kill.atS >= durationS) throw new UsageError(`--kill at ${kill.atS}s is after the run (${durationS}s)`);
  if (values.db && values.target) throw new UsageError('--db is for the embedded platform: leave out --target');
  if (values.db && !/^postgres(ql)?:\/\//.test(values.db)) throw new UsageError('--db wants a postgres:// URL');
  const timeoutScale = values['timeout-scale'] ? positiveInt(values['timeout-scale'], 'timeout-scale') : 1;
  if (timeoutScale > 100) throw new UsageError('--timeout-scale is at most 100');
  if (timeoutScale !== 1 && values.target) {
    throw new UsageError('--timeout-scale configures the embedded platform: leave out --target');
  }
  const target = values.target?.replace(/\/$/, '');
  if (target && !/^https?:\/\//.test(target)) throw new UsageError(`--target wants an http(s) URL, not '${target}'`);
  return {
    target,
    users: positiveInt(values.users, 'users'),
    durationS,
    kill,
    db: values.db,
    timeoutScale,
    dataDir: values.data,
    pointUrl: values['point-url']?.replace(/\/$/, ''),
    admin: values.admin ? parseAdmin(values.admin) : undefined,
    thresholds: values.thresholds,
    out: values.out,
    seed: values.seed ? positiveInt(values.seed, 'seed') : Math.floor(Math.random() * 1e9) + 1,
    chat: !values['no-chat'],
    render: values.render,
  };
}
