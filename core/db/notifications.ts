/**
 * PostgreSQL LISTEN on one channel, kept up: every notification is handed on, and after each
 * (re)connection `onListening` runs, since whatever was notified while not listening was not heard.
 * A lost connection calls `onLost` and reconnects after `retryMs`, warning then unless stopped meanwhile. Used by the caches and
 * processes that must notice configuration changes made through the API.
 */
import pg from 'pg';
import type { Logger } from '../logger.js';

export interface ChannelListener {
  onNotification: (payload: string | undefined) => void;
  /** Connected and listening (also after a reconnection). */
  onListening: () => void;
  /** The connection was lost; a reconnection follows. */
  onLost?: () => void;
}

/**
 * Listens until the returned function is called (calling it again does nothing more). `what` names
 * the listener in the warning logged on a loss, which is not logged once stopping has begun.
 */
export function listenToChannel(
  databaseUrl: string,
  channel: string,
  listener: ChannelListener,
  logger: Pick<Logger, 'warn'>,
  what: string,
  retryMs = 1_000,
): () => Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async () => {
    const current = new pg.Client({ connectionString: databaseUrl });
    client = current;
    const lost = (error?: unknown) => {
      if (client !== current) return;
      client = undefined;
      listener.onLost?.();
      current.end().catch(() => undefined);
      if (stopped) return;
      // Said as the reconnection starts, not at once: a process stopped together with its
      // database (Ctrl-C of `npm start` reaches both, and the server may act first) has
      // stopped listening by then, and a loss at shutdown is no news.
      retry = setTimeout(() => {
        if (stopped) return;
        logger.warn({ err: error }, `${what}: change notifications lost, reconnecting`);
        void connect();
      }, retryMs);
    };
    current.on('notification', (message) => listener.onNotification(message.payload || undefined));
    current.on('error', lost);
    current.on('end', () => lost());
    try {
      await current.connect();
      await current.query(`LISTEN ${channel}`);
      listener.onListening();
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
