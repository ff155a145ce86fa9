import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '@livehouse/kit/testing/ports';

export const root = resolve(import.meta.dirname, '../../..');
export const cli = join(root, 'packages/cli/src/main.ts');

/** The project's Node 24 (the `node` dev dependency), as `npm run` would use it. */
export const node = join(root, 'node_modules/.bin/node');

export function writeConfig(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'livehouse-cli-'));
  const file = join(dir, 'application.yaml');
  writeFileSync(file, yaml);
  return { dir, file };
}

export { freePort };

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function livehouse(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(node, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: 'pipe' });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.on('exit', (code, signal) => ok({ code, signal })),
  );
  return { child, output: () => out, exited };
}

export async function waitFor(url: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
