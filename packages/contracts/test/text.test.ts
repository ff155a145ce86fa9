import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as contracts from '../src/index.ts';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv({ coerceTypes: false, strict: false });
addFormats(ajv);

type Schema = { type?: string; minLength?: number; maxLength?: number; [k: string]: unknown };

/** Every string a client may send: the leaves of each exported *Body, *Query, *Params, *Headers and *Frame. */
function inputStrings() {
  const leaves: { at: string; schema: Schema }[] = [];
  const walk = (schema: unknown, at: string) => {
    if (!schema || typeof schema !== 'object') return;
    const s = schema as Schema;
    if (s.type === 'string') leaves.push({ at, schema: s });
    for (const [key, value] of Object.entries(s)) {
      if (key === 'properties' && value && typeof value === 'object') {
        for (const [name, child] of Object.entries(value)) walk(child, `${at}.${name}`);
      } else if (Array.isArray(value)) {
        for (const [i, child] of value.entries()) walk(child, `${at}[${i}]`);
      } else if (key === 'items' || key === 'additionalProperties') walk(value, `${at}.${key}`);
    }
  };
  const modules = Object.entries(contracts).filter(([, v]) => v && typeof v === 'object' && !('type' in v));
  for (const [module, exports] of modules) {
    for (const [name, schema] of Object.entries(exports as Record<string, unknown>)) {
      if (/(Body|Query|Params|Headers|Frame)$/.test(name) && name !== 'ErrorBody') walk(schema, `${module}.${name}`);
    }
  }
  return leaves;
}

describe('text rule in the contracts', () => {
  const leaves = inputStrings();

  it('when the contracts are scanned, then they have input strings to check', () => {
    expect(leaves.length).toBeGreaterThan(30);
  });

  it('when any input string holds NUL or an unpaired surrogate, then it is invalid', () => {
    const unstorable = fc.constantFrom('\u0000', '\uD800', '\uDFFF');
    for (const { at, schema } of leaves) {
      const check = ajv.compile(schema);
      const min = schema.minLength ?? 0;
      const max = Math.max(1, schema.maxLength ?? 50);
      fc.assert(
        fc.property(fc.string({ maxLength: Math.max(0, max - 1) }), unstorable, fc.nat(), (text, bad, where) => {
          // Padded to the minimum length, so only the bad character can make it invalid.
          const base = text.padEnd(Math.max(min - 1, 0), 'a').slice(0, max - 1);
          const i = where % (base.length + 1);
          const probe = base.slice(0, i) + bad + base.slice(i);
          expect(check(probe), `${at} accepted ${JSON.stringify(probe)}`).toBe(false);
        }),
        { numRuns: 30 },
      );
    }
  });

  it('when free text is ordinary Unicode (emoji, CJK, accents), then Text accepts it', () => {
    const check = ajv.compile(contracts.Text({ maxLength: 100 }));
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (s) => check(s.replaceAll('\u0000', ''))));
    expect(check('配信 🎮 café')).toBe(true);
  });
});
