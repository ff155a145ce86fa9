import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@livehouse/kit/testing/ports';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type Host, heapFlags, parseCpuMax, parseMemoryMax, planWorkers } from '../src/workers.ts';

const here = dirname(fileURLToPath(import.meta.url));
const node = join(here, '../../../node_modules/.bin/node');

function host(files: Record<string, string>, cpus = 8): Host {
  return { readFile: (path) => files[path], availableParallelism: () => cpus };
}

describe('planWorkers', () => {
  it('when the pod has 4 CPUs and 4096Mi on an 8-core node, then auto runs 4 workers with 768 MiB heaps', () => {
    const plan = planWorkers(
      'auto',
      host({ '/sys/fs/cgroup/cpu.max': '400000 100000\n', '/sys/fs/cgroup/memory.max': `${4096 * 2 ** 20}\n` }),
    );
    expect(plan).toEqual({ workers: 4, heapMiB: 768 });
  });

  it('when there is no CPU quota or no cgroup v2, then auto uses the CPUs available and sets no heap', () => {
    expect(
      planWorkers('auto', host({ '/sys/fs/cgroup/cpu.max': 'max 100000', '/sys/fs/cgroup/memory.max': 'max' }, 6)),
    ).toEqual({
      workers: 6,
      heapMiB: undefined,
    });
    expect(planWorkers('auto', host({}, 2))).toEqual({ workers: 2, heapMiB: undefined });
  });

  it('when the quota is fractional or larger than the node, then auto rounds down within 1…CPUs', () => {
    expect(planWorkers('auto', host({ '/sys/fs/cgroup/cpu.max': '150000 100000' })).workers).toBe(1);
    expect(planWorkers('auto', host({ '/sys/fs/cgroup/cpu.max': '50000 100000' })).workers).toBe(1);
    expect(planWorkers('auto', host({ '/sys/fs/cgroup/cpu.max': '1600000 100000' }, 4)).workers).toBe(4);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 1, max: 256 }), (quota, cpus) => {
        const { workers } = planWorkers('auto', host({ '/sys/fs/cgroup/cpu.max': `${quota} 100000` }, cpus));
        return workers >= 1 && workers <= cpus && workers <= Math.max(1, quota / 100_000);
      }),
    );
  });

  it('when a number is given, then it is used; anything else is refused', () => {
    expect(planWorkers('3', host({ '/sys/fs/cgroup/memory.max': `${3 * 2 ** 30}` }))).toEqual({
      workers: 3,
      heapMiB: 768,
    });
    for (const bad of ['0', '-1', '1.5', 'all', ''])
      expect(() => planWorkers(bad, host({}))).toThrow(/positive integer or 'auto'/);
  });

  it('when a heap budget is turned into V8 flags, then old space plus three semi-spaces make the budget', () => {
    expect(heapFlags(768)).toEqual(['--max-old-space-size=720', '--max-semi-space-size=16']);
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 65_536 }), (budget) => {
        const [old, semi] = heapFlags(budget).map((f) => Number(f.split('=')[1]));
        return old! + 3 * semi! === budget && [1, 2, 4, 8, 16].includes(semi!) && old! > budget / 2;
      }),
    );
  });

  it('when cgroup files are read, then max means unlimited', () => {
    expect(parseCpuMax('max 100000')).toBeUndefined();
    expect(parseCpuMax('200000 100000')).toBe(2);
    expect(parseMemoryMax('max\n')).toBeUndefined();
    expect(parseMemoryMax('536870912\n')).toBe(512 * 2 ** 20);
  });
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

async function start(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(node, [join(here, 'fixtures/workers-app.ts')], {
    env: { PATH: process.env.PATH, PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  const waiting = new Set<() => void>();
  const collect = (d: Buffer) => {
    output += d;
    for (const check of waiting) check();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  /** Resolves once the output contains `text`; fails after `timeoutMs`, below the test's timeout. */
  const printed = (text: string, timeoutMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(check);
        reject(new Error(`no ${JSON.stringify(text)} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const check = () => {
        if (!output.includes(text)) return;
        clearTimeout(timer);
        waiting.delete(check);
        resolve();
      };
      waiting.add(check);
      check();
    });
  return { child, port, ready: () => printed('"msg":"workers ready"'), printed, exited, output: () => output };
}

const get = async (port: number, path = '/') => {
  // A new connection each time, so that the primary hands each to the next worker.
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' } });
  return (await res.json()) as { pid: number; heapLimitMiB: number };
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('runWorkers', () => {
  it('when two workers serve one port, then both answer, each with the heap it was given', async () => {
    const app = await start({ WORKERS: '2', HEAP_MIB: '256' });
    await app.ready();
    const answers = await Promise.all(Array.from({ length: 20 }, () => get(app.port)));
    const pids = new Set(answers.map((a) => a.pid));
    expect(pids.size).toBe(2);
    expect(pids.has(app.child.pid!)).toBe(false);
    // V8's whole heap limit (old space and young generation), not only the old space.
    for (const a of answers) expect(a.heapLimitMiB).toBe(256);
  });

  it('when the primary gets SIGTERM during a request, then the request completes, every worker exits and the primary exits 0', async () => {
    const app = await start({ WORKERS: '2' });
    await app.ready();
    const workerPids = new Set((await Promise.all(Array.from({ length: 10 }, () => get(app.port)))).map((a) => a.pid));
    const slow = get(app.port, '/slow');
    await app.printed('"msg":"slow request received"'); // a worker holds it for 1 s
    app.child.kill('SIGTERM');
    await expect(slow).resolves.toMatchObject({ pid: expect.any(Number) });
    expect(await app.exited, app.output()).toBe(0);
    for (const pid of workerPids) expect(alive(pid)).toBe(false);
    expect(app.output()).toContain('"msg":"all workers stopped"');
  });

  it('when a worker cannot start, then the primary stops with its exit code', async () => {
    const app = await start({ WORKERS: '2', FAIL_START: '1' });
    expect(await app.exited).toBe(2);
    expect(app.output()).toContain('invalid config');
  });
});
