import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { dockerEntrypoint, repoRoot } from './manifests.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

export const CONFIG_PATH = '/etc/livehouse/application.yaml';

/** The pods run as uid 1000 (the image's USER, the manifests' runAsUser); so do these tests when they can. */
export const podUser: { uid?: number; gid?: number } = process.getuid?.() === 0 ? { uid: 1000, gid: 1000 } : {};

/**
 * A working directory laid out like the image's /app (package.json, node_modules, packages, services) that the
 * pod's user cannot write: what `readOnlyRootFilesystem: true` makes of /app.
 */
export function readOnlyApp(): string {
  const app = mkdtempSync(join(tmpdir(), 'livehouse-app-'));
  for (const entry of ['package.json', 'node_modules', 'packages', 'services'])
    symlinkSync(join(repoRoot, entry), join(app, entry));
  chmodSync(app, 0o555);
  return app;
}

export interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

/** Runs a container of a pod the way the kubelet would with the image: ENTRYPOINT + the manifest's args. */
export function runContainer(
  container: Any,
  env: NodeJS.ProcessEnv,
  configFile: string,
  options: { cwd?: string; user?: { uid?: number; gid?: number } } = {},
): Running {
  const [program, ...entryArgs] = dockerEntrypoint();
  expect(program).toBe('node');
  expect(container.command).toBeUndefined();
  const args = (container.args as string[]).map((a) => (a === CONFIG_PATH ? configFile : a));
  const child = spawn(join(repoRoot, 'node_modules/.bin/node'), [...entryArgs, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options.user,
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

export async function waitFor200(url: string, timeoutMs: number, alive: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline && alive()) {
    try {
      const res = await fetch(url);
      if (res.status === 200) return res;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer 200 (last: ${last})`);
}
