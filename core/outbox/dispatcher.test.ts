// The outbox dispatcher against a PostgreSQL that is not there (a real client, a closed port): one
// failed read is no warning (the database may be stopping with the process, as on npm start's
// Ctrl-C), a database that stays unreadable is warned about, and the dispatcher keeps trying.
import { expect, it } from 'vitest';
import { createDb } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { TemporalGateway } from '../temporal/gateway.js';
import { findFreePort } from '../../embedded/ports.js';
import { OutboxDispatcher } from './dispatcher.js';

it('says nothing above info for one failed read, then warns while the database stays away', async () => {
  const db = createDb(`postgres://hub:hub@127.0.0.1:${await findFreePort('127.0.0.1')}/hub?connect_timeout=1`);
  const logged: { level: string; message: string }[] = [];
  const record = (level: string) => (_details: unknown, message?: string) => void logged.push({ level, message: String(message) });
  const logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') } as unknown as Logger;
  const dispatcher = new OutboxDispatcher({ db, temporal: {} as TemporalGateway, deliverers: {}, logger, pollMs: 20 });
  dispatcher.start();
  try {
    await expect.poll(() => logged.filter((entry) => entry.level === 'warn').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
  } finally {
    await dispatcher.stop();
    await db.$disconnect();
  }
  const reads = logged.filter((entry) => entry.message.startsWith('outbox: cannot read the outbox'));
  expect(reads[0]).toEqual({ level: 'info', message: 'outbox: cannot read the outbox; trying again' });
  expect(reads.slice(1).every((entry) => entry.level === 'warn')).toBe(true);
});
