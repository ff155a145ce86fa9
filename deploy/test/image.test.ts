import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerEntrypoint, repoRoot } from './manifests.ts';

/** The Dockerfile cannot be built here (no Docker engine): these read it the way a reviewer would. */
const dockerfile = readFileSync(join(repoRoot, 'deploy/docker/Dockerfile'), 'utf8');
const ignore = readFileSync(join(repoRoot, 'deploy/docker/Dockerfile.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .filter((l) => l.trim() && !l.trim().startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (line.startsWith('FROM ')) acc.push([]);
  acc.at(-1)?.push(line);
  return acc;
}, []);
const finalStage = stages.at(-1)!;
const rootPackage = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));

describe('the image', () => {
  it('when the base image is read, then it is a pinned Node 24 release (the major the tests run on)', () => {
    const base = instructions.find((l) => l.startsWith('ARG NODE_IMAGE='))!.split('=')[1]!;
    expect(base).toMatch(/^node:\d+\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    const nodeVersion = JSON.parse(readFileSync(join(repoRoot, 'node_modules/node/package.json'), 'utf8')).version;
    expect(base.split(':')[1]!.split('.')[0]).toBe(nodeVersion.split('.')[0]);
    for (const from of instructions.filter((l) => l.startsWith('FROM '))) expect(from).not.toMatch(/:latest\b/);
  });

  it('when dependencies are installed, then only production ones are, from the lockfile', () => {
    const install = instructions.find((l) => l.includes('npm ci'))!;
    expect(install).toMatch(/npm ci --omit=dev/);
    expect(rootPackage.devDependencies.node).toBeDefined(); // the Node used locally, left out of the image
  });

  it('when the service starts, then it runs as a non-root user with the CLI as entrypoint', () => {
    const user = finalStage.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/); // numeric, so runAsNonRoot can verify it
    expect(dockerEntrypoint(dockerfile)).toEqual(['node', 'packages/cli/src/main.ts']);
    expect(rootPackage.scripts.livehouse).toBe('node packages/cli/src/main.ts');
    expect(existsSync(join(repoRoot, 'packages/cli/src/main.ts'))).toBe(true);
    expect(finalStage).toContain('EXPOSE 8080 9090');
  });

  it('when the build context is sent, then only manifests and sources go, never tests, local data or modules', () => {
    expect(ignore[0]).toBe('**');
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', '**/*.test.ts', '!package-lock.json']));
    expect(
      ignore.filter((l) => l.startsWith('!')).every((l) => /^!(package(-lock)?\.json|(packages|services)\/)/.test(l)),
    ).toBe(true);
    // The final stage copies every workspace folder the lockfile installs.
    for (const dir of ['packages/', 'services/']) expect(finalStage).toContain(`COPY ${dir} ${dir}`);
  });
});

/**
 * The fonts the card asks for (services/thumbnail/src/card.ts) must come from the packages the image installs: a
 * fontconfig that sees only those packages' files must know Noto Sans and Noto Sans CJK JP, cover Latin and
 * Japanese, and change what sharp draws (with no font, a title is boxes).
 */
describe('the fonts in the image', () => {
  const installed = finalStage
    .filter((l) => /apt-get install/.test(l))
    .flatMap((l) => l.slice(l.indexOf('apt-get install')).split(/\s+/))
    .filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w) && !['apt-get', 'install', 'rm'].includes(w));
  const dir = mkdtempSync(join(tmpdir(), 'livehouse-fonts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A fontconfig file that sees only the font files of the given Debian packages (as installed on this machine). */
  function fontconfigOf(packages: string[], name: string) {
    const dirs = new Set(
      packages.flatMap((p) =>
        execFileSync('dpkg', ['-L', p], { encoding: 'utf8' })
          .split('\n')
          .filter((f) => /\.(ttf|otf|ttc)$/.test(f))
          .map((f) => dirname(f)),
      ),
    );
    const file = join(dir, `${name}.conf`);
    writeFileSync(
      file,
      `<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>${[...dirs].map((d) => `<dir>${d}</dir>`).join('')}<cachedir>${join(dir, `${name}-cache`)}</cachedir></fontconfig>`,
    );
    return file;
  }
  const fcList = (config: string, pattern: string) =>
    execFileSync('fc-list', [pattern, 'family'], {
      encoding: 'utf8',
      env: { ...process.env, FONTCONFIG_FILE: config },
    });

  it('when the final stage is read, then it installs Noto Sans and Noto Sans CJK (and fontconfig)', () => {
    expect(installed).toEqual(expect.arrayContaining(['fontconfig', 'fonts-noto-core', 'fonts-noto-cjk']));
  });

  it('when only the installed font packages are visible, then the card’s families exist and cover Latin and Japanese', () => {
    const config = fontconfigOf(
      installed.filter((p) => p.startsWith('fonts-')),
      'image',
    );
    const families = fcList(config, ':');
    expect(families).toMatch(/^Noto Sans(,|$)/m);
    expect(families).toMatch(/Noto Sans CJK JP/);
    expect(fcList(config, ':charset=65e5 672c 3042').trim()).not.toBe(''); // 日 本 あ
    expect(fcList(config, ':charset=41 7a').trim()).not.toBe(''); // A z
  });

  it('when a Japanese title is drawn with the image’s fonts, then sharp draws other pixels than with no font', () => {
    // Run from services/thumbnail so that `sharp` resolves as the service resolves it.
    const script = `import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { cardSvg } from ${JSON.stringify(pathToFileURL(join(repoRoot, 'services/thumbnail/src/card.ts')).href)};
const raw = await sharp(Buffer.from(cardSvg({ title: '配信中です Live', category: null }, 640, 360))).raw().toBuffer();
console.log(createHash('sha256').update(raw).digest('hex'));`;
    const draw = (config: string) =>
      execFileSync(join(repoRoot, 'node_modules/.bin/node'), ['--input-type=module', '-e', script], {
        cwd: join(repoRoot, 'services/thumbnail'),
        encoding: 'utf8',
        env: { PATH: process.env.PATH, FONTCONFIG_FILE: config },
      }).trim();
    const withFonts = draw(
      fontconfigOf(
        installed.filter((p) => p.startsWith('fonts-')),
        'drawn',
      ),
    );
    const withNone = draw(fontconfigOf([], 'none'));
    expect(withFonts).toMatch(/^[0-9a-f]{64}$/);
    expect(withFonts).not.toBe(withNone);
  }, 60_000);
});

/**
 * Vite (a peer of @fastify/vite, so installed even with --omit=dev) and what only it needs are removed from the
 * image: the lockfile says which packages those are, and the web must serve pages without any of them.
 */
describe('the web in the image, without its build tools', () => {
  const depsStage = stages.find((s) => s[0]?.includes(' AS deps')) ?? [];
  const pruned = (depsStage.find((l) => l.includes('rm -rf vite')) ?? '').split('rm -rf')[1]?.trim().split(/\s+/) ?? [];
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<
      string,
      {
        dev?: boolean;
        dependencies?: Record<string, string>;
        optionalDependencies?: Record<string, string>;
        peerDependencies?: Record<string, string>;
        peerDependenciesMeta?: Record<string, { optional?: boolean }>;
      }
    >;
  };
  /** Top-level packages a production install reaches from the workspaces, not going through `skip`. */
  function reachable(skip: string | null) {
    const seen = new Set<string>();
    const deps = (p: (typeof lock.packages)[string], peers: boolean) =>
      Object.keys({
        ...p.dependencies,
        ...p.optionalDependencies,
        ...(peers ? p.peerDependencies : {}),
      }).filter((d) => !p.peerDependenciesMeta?.[d]?.optional);
    const resolve = (from: string, name: string) => {
      for (let base = from; ; ) {
        const path = `${base ? `${base}/` : ''}node_modules/${name}`;
        if (lock.packages[path]) return path;
        if (!base.includes('node_modules/'))
          return lock.packages[`node_modules/${name}`] ? `node_modules/${name}` : null;
        base = base.slice(0, base.lastIndexOf('/node_modules/'));
      }
    };
    const stack = Object.entries(lock.packages)
      .filter(([path]) => !path.includes('node_modules/'))
      .flatMap(([path, p]) => deps(p, false).map((d) => resolve(path, d)));
    while (stack.length > 0) {
      const path = stack.pop();
      if (!path || seen.has(path) || lock.packages[path]?.dev) continue;
      if (path.slice(path.lastIndexOf('node_modules/') + 13) === skip) continue;
      seen.add(path);
      for (const d of deps(lock.packages[path] ?? {}, true)) stack.push(resolve(path, d));
    }
    return seen;
  }

  it('when the dependencies are installed, then every package only Vite needs is removed, and nothing else', () => {
    const withoutVite = reachable('vite');
    const onlyVite = [...reachable(null)].filter((p) => !withoutVite.has(p));
    expect(onlyVite).toContain('node_modules/vite');
    expect(onlyVite).toContain('node_modules/rolldown');
    const removedBy = (path: string) =>
      pruned.some((pattern) => {
        const name = path.replace(/^node_modules\//, '');
        return pattern.endsWith('*')
          ? name.startsWith(pattern.slice(0, -1))
          : name === pattern || name.startsWith(`${pattern}/`);
      });
    expect(onlyVite.filter((p) => !removedBy(p))).toEqual([]);
    // Nothing a production package needs is among the removed.
    expect([...withoutVite].filter((p) => !p.slice(13).includes('node_modules/') && removedBy(p))).toEqual([]);
  });

  it('when the web server starts with Vite, rolldown, lightningcss and postcss unloadable, then it serves its pages', () => {
    const script = `
      import { registerHooks } from 'node:module';
      registerHooks({
        resolve(specifier, context, next) {
          if (/^(vite|rolldown|lightningcss|postcss)(\\/|$)|^@rolldown\\//.test(specifier)) {
            throw new Error('the web loaded a build tool: ' + specifier);
          }
          return next(specifier, context);
        },
      });
      const { generateDevSecrets, openBackend, startPlatform } = await import('@livehouse/kit');
      const { webService, ensureBuilt } = await import('@livehouse/web');
      if ((await ensureBuilt()) !== 'fresh') throw new Error('dist/ was not built from these sources');
      const backend = await openBackend('memory://');
      const platform = await startPlatform([webService], {
        backend,
        env: generateDevSecrets(),
        config: () => ({ log: { level: 'fatal' }, services: { bff: 'http://127.0.0.1:9' } }),
      });
      const page = await fetch(platform.url('web') + '/signup');
      const html = await page.text();
      const script = /src="(\\/assets\\/[^"]+\\.js)"/.exec(html)?.[1];
      const asset = await fetch(platform.url('web') + script);
      console.log(JSON.stringify({ page: page.status, form: html.includes('name="handle"'), asset: asset.status }));
      await platform.close();
      await backend.close();
    `;
    const out = execFileSync(join(repoRoot, 'node_modules/.bin/node'), ['--input-type=module', '-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(JSON.parse(out.trim().split('\n').at(-1) ?? '{}')).toEqual({ page: 200, form: true, asset: 200 });
  }, 120_000);
});
