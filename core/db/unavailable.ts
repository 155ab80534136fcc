// Whether an error says the hub's database cannot be reached (down, restarting, refusing
// connections, the network cut) rather than that a statement was wrong. Callers turn the first into
// "try again later" (the API's 503 with Retry-After): the request was not kept, and the client
// keeps it until the database is back. Errors arrive wrapped by Prisma's driver adapter, pg and
// pg-pool, so the whole cause chain is read.

/** Node's socket errors on the way to the server. */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** PostgreSQL: connection exceptions (class 08), shutting down or starting up, out of connections. */
const serverCodes = /^(08[0-9A-Z]{3}|57P0[1-3]|53300)$/;
/** Prisma: server unreachable, timed out, closed the connection, connection pool timeout. */
const prismaCodes = new Set(['P1001', 'P1002', 'P1017', 'P2024']);
/** What pg and pg-pool say, without a code, when a connection fails or drops. */
const messages = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && current !== undefined; depth += 1) {
    if (typeof current === 'object') {
      const fields = current as { code?: unknown; message?: unknown; cause?: unknown; originalCode?: unknown; kind?: unknown };
      for (const code of [fields.code, fields.originalCode]) {
        if (typeof code === 'string' && (socketCodes.has(code) || serverCodes.test(code) || prismaCodes.has(code))) return true;
      }
      if (typeof fields.message === 'string' && messages.test(fields.message)) return true;
      current = fields.cause;
    } else {
      return false;
    }
  }
  return false;
}
