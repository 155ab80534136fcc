// Methods against the real API: a path it serves asked with a method it does not serve there is a
// 405 problem with `Allow`; a path it does not serve at all stays a 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedMethods } from '../api/method-not-allowed.js';
import { startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
});
afterAll(async () => {
  await hub?.close();
});

describe('methods', () => {
  it('DELETE /v1/tasks and PATCH /v1/reconciliation are 405s naming what the path takes', async () => {
    const tasks = await hub.request('/v1/tasks', { method: 'DELETE' });
    expect(tasks.status).toBe(405);
    expect(tasks.headers.get('allow')).toBe('POST');
    expect(tasks.headers.get('content-type')).toBe('application/problem+json');
    const rules = await hub.request('/v1/reconciliation', { method: 'PATCH', json: {} });
    expect(rules.status).toBe(405);
    expect(rules.headers.get('allow')).toBe('GET, HEAD, PUT');
    const trunk = await hub.request('/v1/telephony/trunks/main', { method: 'POST', json: {} });
    expect(trunk.headers.get('allow')).toBe('DELETE, GET, HEAD, PUT');
  });

  it('a path no route serves is a 404, whatever the method', async () => {
    expect((await hub.request('/v1/nothing-here', { method: 'DELETE' })).status).toBe(404);
    expect((await hub.request('/v1/tasks/a/b/c')).status).toBe(404);
  });

  it('reads Hono path syntax: parameters, parameters with a pattern, and wildcards', () => {
    const routes = [
      { method: 'ALL', path: '/v1/*' },
      { method: 'GET', path: '/docs/assets/:file{swagger-ui(-bundle)?\\.(css|js)}' },
      { method: 'POST', path: '/v1/campaigns/:name/:action' },
    ];
    expect(allowedMethods(routes, '/v1/anything')).toEqual([]);
    expect(allowedMethods(routes, '/docs/assets/swagger-ui.css')).toEqual(['GET', 'HEAD']);
    expect(allowedMethods(routes, '/v1/campaigns/spring/pause')).toEqual(['POST']);
    expect(allowedMethods(routes, '/v1/campaigns/spring/pause/now')).toEqual([]);
  });
});
