import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config.ts';

const env = { LIVEHOUSE_INTERNAL_KEY: 'k'.repeat(32) };
const own = { point: Type.Object({ feeBps: Type.Integer({ minimum: 0, default: 1000 }) }, { default: {} }) };

describe('config', () => {
  it('when the file is minimal, then defaults fill every key and the result is frozen', () => {
    const config = parseConfig({}, own, { env });
    expect(config.http.port).toBe(8080);
    expect(config.http.adminPort).toBe(9090);
    expect(config.point.feeBps).toBe(1000);
    expect(config.secrets.internalKey).toBe(env.LIVEHOUSE_INTERNAL_KEY);
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('when keys are wrong, then one error names every bad key and what was expected', () => {
    const attempt = () =>
      parseConfig({ http: { port: 'eighty' }, databse: {}, point: { feeBps: -1 } }, own, { source: 'app.yaml', env });
    expect(attempt).toThrow(ConfigError);
    let message = '';
    try {
      attempt();
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('app.yaml');
    expect(message).toContain('http.port must be integer (got "eighty")');
    expect(message).toContain('databse is not a known key');
    expect(message).toContain('point.feeBps must be >= 0 (got -1)');
    expect(message.split('\n')).toHaveLength(1);
  });

  it('when trustProxy is a list of CIDRs, then it is kept; true or a non-address is refused in one line', () => {
    expect(parseConfig({ http: { trustProxy: ['10.0.0.0/16', 'fd00::/8'] } }, {}, { env }).http.trustProxy).toEqual([
      '10.0.0.0/16',
      'fd00::/8',
    ]);
    expect(parseConfig({}, {}, { env }).http.trustProxy).toBe(false);
    for (const bad of [true, ['everything'], '10.0.0.0/16', []]) {
      expect(() => parseConfig({ http: { trustProxy: bad } }, {}, { env })).toThrow(
        /http\.trustProxy must be false or a list of CIDRs like \[10\.0\.0\.0\/16\]/,
      );
    }
  });

  it('when the internal key is missing or short, then start-up is refused', () => {
    expect(() => parseConfig({}, {}, { env: {} })).toThrow(/LIVEHOUSE_INTERNAL_KEY \(environment\) is required/);
    expect(() => parseConfig({}, {}, { env: { LIVEHOUSE_INTERNAL_KEY: 'short' } })).toThrow(/at least 32 bytes/);
  });

  it('when LIVEHOUSE_DATABASE_URL is set, then it overrides database.url and secrets never come from the file', () => {
    const config = parseConfig(
      { database: { url: 'memory://' } },
      {},
      {
        env: { ...env, LIVEHOUSE_DATABASE_URL: 'postgres://db/livehouse' },
      },
    );
    expect(config.database?.url).toBe('postgres://db/livehouse');
    expect(() => parseConfig({ secrets: { internalKey: 'x' } }, {}, { env })).toThrow(/secrets is not a known key/);
  });
});
