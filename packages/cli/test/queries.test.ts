import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { queriesDir, renderQueries } from '../src/queries.ts';

test('when a compiled statement changes, then queries/ has its new SQL (run npm run queries and review the diff)', () => {
  const rendered = renderQueries();
  const onDisk = readdirSync(queriesDir).filter((f) => f.endsWith('.sql'));
  expect(onDisk.sort()).toEqual([...rendered.keys()].sort());
  for (const [name, text] of rendered) expect(readFileSync(join(queriesDir, name), 'utf8'), name).toBe(text);
  // The hot statements of the issue are all there.
  const all = [...rendered.values()].join('\n');
  for (const name of [
    'point.claimKeyAndDebit',
    'point.recordTransfer',
    'point.walletState',
    'kit.writeEvent',
    'contents.findStreams',
    'contents.listLive',
    'user.findProfiles',
    'user.listFollows.followers',
    'timeline.timelinePage',
  ]) {
    expect(all).toContain(`-- ${name}\n`);
  }
});
