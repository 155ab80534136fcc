// The hub's database unreachable (a TCP relay in front of the real PostgreSQL, cut and restored):
// the API answers 503 with Retry-After and a problem saying nothing was stored, never a 500, so a
// client keeps its request and sends it again; once the database is back the same request is taken.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.js';
import { defaultRegistry } from '../connectors/registry.js';
import { ConnectorRuntime } from '../connectors/runtime.js';
import { ConnectorInstances } from '../core/connectors/instances.js';
import { createDb, type Db } from '../core/db/client.js';
import { createLogger } from '../core/logger.js';
import { SecretBox } from '../core/secrets/secret-box.js';
import { startTestHub, type TestHub } from './support/hub.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

let hub: TestHub;
let proxy: TcpProxy;
let db: Db;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  const direct = new URL(hub.databaseUrl);
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const relayed = new URL(hub.databaseUrl);
  relayed.hostname = '127.0.0.1';
  relayed.port = String(proxy.port);
  db = createDb(relayed.toString());
  // The hub's own app, on a database client that reaches PostgreSQL through the relay only.
  const registry = defaultRegistry();
  const secretBox = new SecretBox(hub.secretKey);
  const connectors = { registry, runtime: new ConnectorRuntime({ registry, secretBox }), instances: new ConnectorInstances(db, registry, secretBox) };
  app = createApp({ connectors, db, temporal: hub.temporal, logger: createLogger('test', 'fatal'), taskQueue: hub.taskQueue, maxTasksPerRequest: 1000 });
});
afterAll(async () => {
  await db?.$disconnect().catch(() => undefined);
  await proxy?.close();
  await hub?.close();
});

const post = (path: string, json: unknown) =>
  app.request(path, { method: 'POST', headers: { authorization: `Bearer ${hub.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(json) });
const get = (path: string) => app.request(path, { headers: { authorization: `Bearer ${hub.apiKey}` } });

describe('the database unreachable', () => {
  it('is a 503 with Retry-After on every kind of route, nothing stored, and the same request is taken once it is back', async () => {
    const task = { phone: '+14155550401', name: 'Ada', externalId: 'outage-1' };
    // A first request, so the API key is known before the outage (and the pool holds connections to cut).
    expect((await post('/v1/tasks', { phone: '+14155550400' })).status).toBe(202);

    proxy.down();
    for (const response of [
      await post('/v1/tasks', task),
      await get('/v1/conflicts'),
      await post('/v1/contacts/answers', { phone: '+14155550401', agent: 'olga', answers: { name: 'Ada' } }),
      await get('/v1/reports/calls'),
    ]) {
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(await response.json()).toMatchObject({ status: 503, title: 'Database unavailable' });
    }
    expect(await hub.db.task.count({ where: { projectId: hub.projectId, externalId: 'outage-1' } })).toBe(0);

    proxy.up();
    const again = await post('/v1/tasks', task);
    expect(again.status).toBe(202);
    expect(await hub.db.task.count({ where: { projectId: hub.projectId, externalId: 'outage-1' } })).toBe(1);
  });
});
