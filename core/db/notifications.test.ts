// LISTEN kept up on a real PostgreSQL: notifications arrive, a killed connection is noticed,
// re-established, and announced so the listener can catch up on what it missed.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHubDatabase, eventually } from '../../test/support/hub.js';
import { createDb, type Db } from './client.js';
import { listenToChannel } from './notifications.js';

let db: Db;
let url: string;
let drop: () => Promise<void>;

beforeAll(async () => {
  const database = await createHubDatabase();
  url = database.url;
  drop = database.drop;
  db = createDb(url);
});
afterAll(async () => {
  await db?.$disconnect();
  await drop?.();
});

it('hands on notifications, and after a lost connection reconnects and says it listens again', async () => {
  const heard: (string | undefined)[] = [];
  let listening = 0;
  let lost = 0;
  const warnings: string[] = [];
  const stop = listenToChannel(
    url,
    'hub_test_channel',
    { onNotification: (payload) => heard.push(payload), onListening: () => (listening += 1), onLost: () => (lost += 1) },
    { warn: (_details: unknown, message?: string) => void warnings.push(String(message)) } as never,
    'test listener',
    100,
  );
  try {
    await eventually(async () => (listening === 1 ? true : undefined), 10_000, 'listening');
    await db.$executeRaw`SELECT pg_notify('hub_test_channel', 'project-1')`;
    await db.$executeRaw`SELECT pg_notify('hub_test_channel', '')`;
    await eventually(async () => (heard.length === 2 ? true : undefined), 10_000, 'two notifications');
    expect(heard).toEqual(['project-1', undefined]);

    // The server ends the listening connection (a restart, an admin, a failover).
    await db.$executeRaw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN hub_test_channel' AND pid <> pg_backend_pid()`;
    await eventually(async () => (listening === 2 ? true : undefined), 10_000, 'listening again');
    expect(lost).toBe(1);
    expect(warnings).toEqual(['test listener: change notifications lost, reconnecting']);
    await db.$executeRaw`SELECT pg_notify('hub_test_channel', 'project-2')`;
    await eventually(async () => (heard.includes('project-2') ? true : undefined), 10_000, 'a notification after the reconnection');
  } finally {
    await stop();
  }
  expect(warnings).toHaveLength(1);
  expect(() => listenToChannel(url, 'bad; DROP TABLE x', { onNotification: () => undefined, onListening: () => undefined }, { warn: () => undefined } as never, 'x')).toThrow('not a channel name');
});

it('a connection the server ends while the listener is being stopped is no warning', async () => {
  let listening = 0;
  const warnings: string[] = [];
  const stop = listenToChannel(
    url,
    'hub_test_shutdown',
    { onNotification: () => undefined, onListening: () => (listening += 1) },
    { warn: (_details: unknown, message?: string) => void warnings.push(String(message)) } as never,
    'test listener',
    500,
  );
  await eventually(async () => (listening === 1 ? true : undefined), 10_000, 'listening');
  // The database goes first (it took the same Ctrl-C), the process's own stop a moment later.
  await db.$executeRaw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN hub_test_shutdown' AND pid <> pg_backend_pid()`;
  await new Promise((resolve) => setTimeout(resolve, 100));
  await stop();
  await new Promise((resolve) => setTimeout(resolve, 700));
  expect(warnings).toEqual([]);
  expect(listening).toBe(1);
});

