// Temporal down must delay work, never lose it: tasks are still accepted (202),
// wait in the outbox, and their journeys run once Temporal is back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { findFreePort } from '../embedded/ports.js';
import { startTemporalDevServer, type TemporalDevServer } from '../embedded/temporal-server.js';
import { devServerSearchAttributes } from '../worker/search-attributes.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';

let dir: string;
let port: number;
let server: TemporalDevServer | undefined;
let hub: TestHub;

async function startServer(): Promise<TemporalDevServer> {
  return startTemporalDevServer({
    binary: inject('temporalBinary'),
    port,
    uiPort: false,
    dbFile: join(dir, 'temporal.db'),
    searchAttributes: devServerSearchAttributes(),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hub-outage-'));
  port = await findFreePort();
  server = await startServer();
  hub = await startTestHub({ temporalAddress: server.address, pollMs: 100 });
});

afterAll(async () => {
  await hub?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

it('accepts tasks while Temporal is down and runs their journeys when it is back', async () => {
  await server?.stop();
  server = undefined;

  const response = await hub.request('/v1/tasks', {
    method: 'POST',
    json: { tasks: [{ phone: '+1 415 555 0111', name: 'During outage' }, { phone: '+1 415 555 0112' }] },
  });
  expect(response.status).toBe(202);
  const { accepted } = (await response.json()) as { accepted: { id: string }[] };
  expect(accepted).toHaveLength(2);

  // The work is in PostgreSQL, waiting, and health says Temporal is the problem.
  await eventually(async () => ((await hub.db.outboxEntry.findFirst({ where: { attempts: { gt: 0 } } })) ? true : undefined), 10_000, 'a failed delivery attempt');
  expect(await hub.db.outboxEntry.count()).toBe(2);
  const health = await hub.app.request('/healthz');
  expect(health.status).toBe(503);
  expect(await health.json()).toMatchObject({ checks: { database: { ok: true }, temporal: { ok: false } }, outbox: { pending: 2 } });
  expect(await hub.crmRows()).toHaveLength(0);

  server = await startServer();
  await eventually(async () => {
    const done = await hub.db.task.count({ where: { id: { in: accepted.map((task) => task.id) }, status: 'done' } });
    return done === 2 ? true : undefined;
  }, 90_000, 'both tasks done after Temporal returned');
  expect(await hub.db.outboxEntry.count()).toBe(0);
  expect((await hub.crmRows()).map((row) => row.phone).sort()).toEqual(['+14155550111', '+14155550112']);
});
