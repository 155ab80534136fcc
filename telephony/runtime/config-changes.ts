/**
 * How the telephony process learns that a project's telephony configuration (trunks, queues, IVR
 * menus, inbound numbers) changed: the API notifies this PostgreSQL channel with the project id
 * after each change, and the process rebuilds that project's call center. A periodic comparison
 * of the stored configuration covers notifications missed while the listener reconnects.
 */
import pg from 'pg';
import type { Db } from '../../core/db/client.js';
import type { Logger } from '../../core/logger.js';

export const TELEPHONY_CONFIG_CHANNEL = 'hub_telephony_config';

export async function announceTelephonyConfigChanged(db: Db, projectId: string): Promise<void> {
  await db.$executeRaw`SELECT pg_notify(${TELEPHONY_CONFIG_CHANNEL}, ${projectId})`;
}

/**
 * Calls `changed` on every notification, and once after each (re)connection (changes made while
 * not listening were not heard). A lost connection is re-established after `retryMs`.
 */
export function listenForTelephonyConfigChanges(databaseUrl: string, changed: () => void, logger: Pick<Logger, 'warn'>, retryMs = 1_000): () => Promise<void> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async () => {
    const current = new pg.Client({ connectionString: databaseUrl });
    client = current;
    const lost = (error?: unknown) => {
      if (client !== current) return;
      client = undefined;
      current.end().catch(() => undefined);
      if (stopped) return;
      logger.warn({ err: error }, 'telephony: configuration change notifications lost, reconnecting');
      retry = setTimeout(() => void connect(), retryMs);
    };
    current.on('notification', () => changed());
    current.on('error', lost);
    current.on('end', () => lost());
    try {
      await current.connect();
      await current.query(`LISTEN ${TELEPHONY_CONFIG_CHANNEL}`);
      changed();
    } catch (error) {
      lost(error);
    }
  };
  void connect();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    const current = client;
    client = undefined;
    await current?.end();
  };
}
