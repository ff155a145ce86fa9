import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inject } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const node = join(root, 'node_modules/.bin/node');
const fixture = join(import.meta.dirname, 'fixtures/platform-child.ts');

export interface EdgeProcess {
  child: ChildProcess;
  bff: URL;
  bffAdmin: string;
  chat: string;
  output(): string;
  /** True while the child has not exited. */
  alive(): boolean;
  /** The child's open file descriptors, from /proc/<pid>/fd. */
  fds(): number;
  /** The descriptor count once it has stopped changing (sockets closing in the background). */
  settledFds(): Promise<number>;
  /** The BFF's admin health check answers 200. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

/** Starts every service and the BFF in a child process on an embedded database (see fixtures/platform-child.ts). */
export async function startEdgeProcess(config: Record<string, Record<string, unknown>> = {}): Promise<EdgeProcess> {
  const child = spawn(node, [fixture], {
    cwd: root,
    env: {
      ...process.env,
      LIVEHOUSE_TEST_PGLITE_SNAPSHOT: inject('pgliteSnapshot'),
      LIVEHOUSE_TEST_CONFIG: JSON.stringify(config),
    },
    stdio: 'pipe',
  });
  let out = '';
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const urls = await new Promise<{ bff: string; bffAdmin: string; chat: string }>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the platform did not start within 60 s:\n${out}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{"bff"'));
      if (line) {
        clearTimeout(timer);
        ok(JSON.parse(line));
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d;
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the platform exited with ${code}:\n${out}`));
    });
  });
  const pid = child.pid;
  return {
    child,
    bff: new URL(urls.bff),
    bffAdmin: urls.bffAdmin,
    chat: urls.chat,
    output: () => out,
    alive: () => !exited,
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    async settledFds() {
      let last = -1;
      for (let stable = 0, i = 0; stable < 20 && i < 300; i++) {
        const now = readdirSync(`/proc/${pid}/fd`).length;
        stable = now === last ? stable + 1 : 0;
        last = now;
        await new Promise((r) => setTimeout(r, 100));
      }
      return last;
    },
    async healthy() {
      try {
        const res = await fetch(`${urls.bffAdmin}/healthz`, { signal: AbortSignal.timeout(5000) });
        await res.text();
        return res.ok;
      } catch {
        return false;
      }
    },
    async close() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Signs up a streamer on the platform behind `bff` and starts a live stream; returns its id. */
export async function liveStream(bff: URL, handle = `s${Math.random().toString(36).slice(2, 10)}`) {
  const api = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(new URL(`/web/v1${path}`, bff), {
      method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(token && { authorization: `Bearer ${token}` }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, never>;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json as Record<string, Record<string, string>>;
  };
  const session = await api('POST', '/auth/signup', {
    handle,
    email: `${handle}@example.com`,
    password: 'long-enough-secret',
  });
  await api('POST', '/me/channel', { title: 'Fuzzing' }, session.tokens?.accessToken);
  const refreshed = await api('POST', '/auth/refresh', { refreshToken: session.tokens?.refreshToken });
  const stream = await api('POST', '/me/streams', { title: 'live' }, refreshed.tokens?.accessToken);
  return stream.id as unknown as string;
}

/** Waits until `check` holds, polling; fails with `describe()` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, describe: () => string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
