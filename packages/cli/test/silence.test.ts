import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDuration, silenceMain } from '../src/silence.ts';
import { livehouse } from './process.ts';

// biome-ignore lint/suspicious/noExplicitAny: the fake reads JSON bodies loosely
type Any = any;

/** Alertmanager's API v2 for silences, as far as the command uses it, with its validation. */
class FakeAlertmanager {
  readonly silences = new Map<string, Any>();
  readonly requests: string[] = [];
  url = '';
  readonly #server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    this.requests.push(`${req.method} ${path}`);
    const send = (status: number, body?: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body));
    if (req.method === 'POST' && path === '/api/v2/silences') {
      const s = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      const valid =
        Array.isArray(s.matchers) &&
        s.matchers.length > 0 &&
        s.matchers.every((m: Any) => m.name && m.value && typeof m.isRegex === 'boolean') &&
        Date.parse(s.startsAt) < Date.parse(s.endsAt) &&
        s.createdBy &&
        s.comment;
      if (!valid) return send(400, 'invalid silence');
      const id = randomUUID();
      this.silences.set(id, { ...s, id, status: { state: 'active' } });
      return send(200, { silenceID: id });
    }
    if (req.method === 'GET' && path === '/api/v2/silences') return send(200, [...this.silences.values()]);
    const del = /^\/api\/v2\/silence\/([0-9a-f-]+)$/.exec(path);
    if (req.method === 'DELETE' && del) {
      const s = this.silences.get(del[1] as string);
      if (!s) return send(404, 'silence not found');
      s.status = { state: 'expired' };
      s.endsAt = new Date().toISOString();
      return send(200);
    }
    send(404, 'not found');
  });
  async start() {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }
  close() {
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

describe('livehouse silence against an Alertmanager API', () => {
  let am: FakeAlertmanager;
  const printed: string[] = [];
  const run = (...args: string[]) => silenceMain([...args, '--alertmanager', am.url], (l) => printed.push(l));
  beforeAll(async () => {
    am = await new FakeAlertmanager().start();
  });
  beforeEach(() => {
    printed.length = 0;
  });
  afterAll(() => am?.close());

  it('when a service is silenced for 2h, then one silence on its namespace and service ends in two hours', async () => {
    const before = Date.now();
    expect(
      await run(
        'create',
        '--namespace',
        'livehouse-prod',
        '--service',
        'chat',
        '--for',
        '2h',
        '--comment',
        'chat migration',
      ),
    ).toBe(0);
    const [id] = printed;
    const s = am.silences.get(id as string);
    expect(s.matchers).toEqual([
      { name: 'namespace', value: 'livehouse-prod', isRegex: false, isEqual: true },
      { name: 'service', value: 'chat', isRegex: false, isEqual: true },
    ]);
    const length = Date.parse(s.endsAt) - Date.parse(s.startsAt);
    expect(length).toBe(2 * 3600_000);
    expect(Date.parse(s.startsAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(s.comment).toBe('chat migration');
  });

  it('when the maintenance ends, then expiring by namespace and service ends that silence and no other', async () => {
    await run('create', '--namespace', 'livehouse-prod', '--for', '1h', '--comment', 'whole namespace');
    const whole = printed[0] as string;
    await run('create', '--namespace', 'livehouse-dev', '--service', 'chat', '--for', '1h', '--comment', 'dev chat');
    const devChat = printed[1] as string;
    printed.length = 0;
    expect(await run('expire', '--namespace', 'livehouse-prod', '--service', 'chat')).toBe(0);
    const active = [...am.silences.values()].filter((s) => s.status.state === 'active').map((s) => s.id);
    expect(active.sort()).toEqual([whole, devChat].sort());
    printed.length = 0;
    expect(await run('list', '--namespace', 'livehouse-prod')).toBe(0);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(new RegExp(`^${whole}\\tuntil .*\\tnamespace=livehouse-prod\\twhole namespace$`));
    expect(await run('expire', whole, devChat)).toBe(0);
    expect([...am.silences.values()].every((s) => s.status.state === 'expired')).toBe(true);
  });

  it('when the input is wrong, then it exits 2 and sends nothing', async () => {
    const before = am.requests.length;
    for (const args of [
      ['create', '--namespace', 'livehouse-prod', '--for', '3w', '--comment', 'x'],
      ['create', '--namespace', 'livehouse-prod', '--for', '8d', '--comment', 'x'],
      ['create', '--namespace', 'livehouse-prod', '--for', '1h'],
      ['create', '--namespace', 'Prod/..', '--for', '1h', '--comment', 'x'],
      ['create', '--for', '1h', '--comment', 'x'],
      ['expire', '../../admin'],
      ['shout'],
    ])
      expect(await run(...args), args.join(' ')).toBe(2);
    expect(am.requests.length).toBe(before);
  });

  it('when Alertmanager refuses, then it exits 1 with its answer', async () => {
    expect(await run('expire', randomUUID())).toBe(1);
  });

  it('when any duration is given, then it is accepted exactly when it is 1 minute to 7 days', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('m', 'h', 'd'), (n, unit) => {
        const ms = n * { m: 60_000, h: 3_600_000, d: 86_400_000 }[unit];
        if (ms <= 7 * 86_400_000) expect(parseDuration(`${n}${unit}`)).toBe(ms);
        else expect(() => parseDuration(`${n}${unit}`)).toThrow(/at most 7d/);
      }),
    );
    for (const bad of ['', '0m', '1.5h', '-1h', '1w', '1 h', 'h']) expect(() => parseDuration(bad), bad).toThrow();
  });

  it('when run as `livehouse silence`, then the CLI creates the silence and prints its id', async () => {
    const p = livehouse([
      'silence',
      'create',
      '--namespace',
      'livehouse-dev',
      '--for',
      '30m',
      '--comment',
      'deploy test',
      '--alertmanager',
      am.url,
    ]);
    const { code } = await p.exited;
    expect(code, p.output()).toBe(0);
    const id = p.output().trim();
    expect(am.silences.get(id)?.comment).toBe('deploy test');
  }, 60_000);
});
