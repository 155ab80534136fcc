/**
 * How the telephony process learns that a project's telephony configuration (trunks, queues, IVR
 * menus, inbound numbers) changed: the API notifies this PostgreSQL channel with the project id
 * after each change, and the process rebuilds that project's call center. A periodic comparison
 * of the stored configuration covers notifications missed while the listener reconnects.
 */
import type { Db } from '../../core/db/client.js';
import type { Logger } from '../../core/logger.js';
import { listenToChannel } from '../../core/db/notifications.js';

export const TELEPHONY_CONFIG_CHANNEL = 'hub_telephony_config';

export async function announceTelephonyConfigChanged(db: Db, projectId: string): Promise<void> {
  await db.$executeRaw`SELECT pg_notify(${TELEPHONY_CONFIG_CHANNEL}, ${projectId})`;
}

/**
 * Calls `changed` on every notification, and once after each (re)connection (changes made while
 * not listening were not heard). A lost connection is re-established after `retryMs`.
 */
export function listenForTelephonyConfigChanges(databaseUrl: string, changed: () => void, logger: Pick<Logger, 'warn'>, retryMs = 1_000): () => Promise<void> {
  return listenToChannel(databaseUrl, TELEPHONY_CONFIG_CHANNEL, { onNotification: () => changed(), onListening: changed }, logger, 'telephony: configuration', retryMs);
}
