import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processFiles } from '../../../vitest.config.ts';

const root = resolve(import.meta.dirname, '../../..');

/** What starts a child process in a test file: our helpers that do (the CLI, a pod, an edge, a fleet of backends, ffmpeg, Chromium) and Node's own. */
const startsProcess =
  /\bspawn\(|\bfork\(|\bexecFile\(|runContainer\(|\blivehouse\(|startEdgeProcess\(|startFleet\(|startMedia\(|hlsFixture\(|chromium\.|run\(redocly/;

function testFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts') && !f.includes('node_modules'))
    .map((f) => relative(root, join(root, dir, f)));
}

describe('the Vitest projects', () => {
  it('when a test file starts child processes, then it runs in the processes project', () => {
    const dirs = ['packages', 'services', 'deploy/test', 'loadtest/test'];
    const spawning = dirs.flatMap(testFiles).filter((f) => startsProcess.test(readFileSync(join(root, f), 'utf8')));
    expect(spawning.length).toBeGreaterThan(10);
    expect(spawning.filter((f) => !processFiles.includes(f))).toEqual([]);
  });

  it('when a file is listed as starting processes, then it exists', () => {
    expect(processFiles.filter((f) => !existsSync(join(root, f)))).toEqual([]);
  });
});
