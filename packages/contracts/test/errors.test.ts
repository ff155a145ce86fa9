import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorStatus } from '../src/errors.ts';

describe('error codes', () => {
  it('when a code exists, then docs/errors.md documents it with its status', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const missing = Object.entries(errorStatus).filter(
      ([code, status]) => !new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`).test(doc),
    );
    expect(missing).toEqual([]);
  });
});
