import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The web workspace: vite.config.ts, client/ (sources) and dist/ (what the server serves). */
export const webRoot = fileURLToPath(new URL('..', import.meta.url));
const distDir = join(webRoot, 'dist');
const stampFile = join(distDir, 'source-hash');

async function* files(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

/** A hash of everything the build reads (client sources, the Vite config, the pinned versions). */
export async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const inputs = [join(webRoot, 'vite.config.ts'), join(webRoot, 'package.json')];
  for await (const f of files(join(webRoot, 'client'))) inputs.push(f);
  for (const f of inputs.sort()) {
    hash
      .update(relative(webRoot, f))
      .update('\0')
      .update(await readFile(f))
      .update('\0');
  }
  return hash.digest('hex');
}

/**
 * Builds the client and SSR bundles when dist/ is missing or older than the sources, so that a fresh
 * clone's `npm ci && npm start` (and a test run) serve what the sources say. Builds into a temporary
 * folder and swaps it in, so a parallel process never reads a half-written dist/. An image built
 * with `npm run build -w @livehouse/web` already matches and never loads Vite at run time.
 */
export async function ensureBuilt(log: (msg: string) => void = () => {}): Promise<'fresh' | 'built'> {
  const want = await sourceHash();
  if (existsSync(stampFile) && (await readFile(stampFile, 'utf8')) === want) return 'fresh';
  const started = performance.now();
  const tmpName = `.dist-${randomBytes(4).toString('hex')}`;
  const tmp = join(webRoot, tmpName);
  try {
    const { createBuilder } = await import('vite');
    const builder = await createBuilder({
      configFile: join(webRoot, 'vite.config.ts'),
      root: join(webRoot, 'client'),
      build: { outDir: tmp },
      logLevel: 'warn',
    });
    await builder.buildApp();
    // The build records its output folders in vite.config.json: make them the final ones.
    const configFile = join(tmp, 'vite.config.json');
    await writeFile(configFile, (await readFile(configFile, 'utf8')).replaceAll(tmpName, 'dist'));
    await writeFile(join(tmp, 'source-hash'), want);
    const old = join(webRoot, `.dist-old-${randomBytes(4).toString('hex')}`);
    if (existsSync(distDir)) await rename(distDir, old).catch(() => {});
    await rename(tmp, distDir).catch(async (err: NodeJS.ErrnoException) => {
      // Another process swapped in the same build meanwhile: keep theirs.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  log(`web: built the client and SSR bundles in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 'built';
}

// `npm run build -w @livehouse/web` (the image build) runs this file.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await ensureBuilt(console.log);
}
