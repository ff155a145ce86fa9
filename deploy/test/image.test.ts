import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
