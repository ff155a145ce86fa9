import { apis, point, type RouteTable, timeline } from '@livehouse/contracts';
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { generateDevSecrets } from '../src/platform.ts';
import { contractProblems, type RegisteredRoute } from '../src/route-contract.ts';
import { buildService, defineService } from '../src/service.ts';

// What point's routes register (its ledger.routes.ts), as the onRoute hook records them.
const served = (): RegisteredRoute[] =>
  Object.values(apis.point as RouteTable).map((d) => ({
    method: d.method,
    url: d.path,
    schema: {
      ...(d.params && { params: d.params }),
      ...(d.query && { querystring: d.query }),
      ...(d.body && { body: d.body }),
      response: { [d.method === 'GET' ? 200 : 201]: d.response },
    },
  }));

describe('a service against its contract (checked when it starts)', () => {
  it('when the routes serve every descriptor, then there is no problem', () => {
    expect(contractProblems('point', apis.point, served())).toEqual([]);
  });

  it('when a route is missing, moved or answers another shape, then each is named', () => {
    const routes = served()
      .filter((r) => r.url !== '/purchases')
      .map((r) =>
        r.url === '/wallets/:userId' ? { ...r, schema: { ...r.schema, response: { 200: point.Spend } } } : r,
      )
      .map((r) => (r.url === '/spends' ? { ...r, schema: { ...r.schema, body: point.PurchaseBody } } : r));
    expect(contractProblems('point', apis.point, routes)).toEqual([
      'point.spend (POST /spends): its body differs',
      'point.purchase (POST /purchases): no such route',
      'point.wallet (GET /wallets/:userId): its answer differs',
    ]);
  });

  it('when a route has no answer schema, then only a void descriptor matches it (a 204)', () => {
    const contract = { logOut: apis.auth.logOut, jwks: apis.auth.jwks } satisfies RouteTable;
    const routes = Object.values(contract).map((d) => ({
      method: d.method,
      url: d.path,
      schema: 'body' in d ? { body: d.body } : {},
    }));
    expect(contractProblems('auth', contract, routes)).toEqual([
      'auth.jwks (GET /.well-known/jwks.json): its answer differs',
    ]);
  });

  it('when a service serves another shape than its contract says, then it does not start', async () => {
    // A timeline whose route answers a bare list instead of the contract's page.
    const drifted = defineService({
      name: 'timeline',
      config: {},
      dependsOn: [],
      routes: async (app) => {
        app.get(
          '/users/:id/timeline',
          {
            schema: {
              params: timeline.UserParams,
              querystring: timeline.TimelineQuery,
              response: { 200: Type.Array(timeline.TimelineItem) },
            },
          },
          async () => [],
        );
      },
    });
    const config = parseConfig({ log: { level: 'silent' } }, drifted.config, {
      source: 'test',
      env: generateDevSecrets(),
    });
    const start = buildService(drifted, config);
    await expect(start).rejects.toThrow(
      'timeline does not serve its contract:\ntimeline.timeline (GET /users/:id/timeline): its answer differs',
    );
  });
});
