import { createServer, connect } from 'node:net';

/**
 * Asks the kernel for an unused TCP port by binding to port 0 and releasing it.
 * Another process can grab the port between release and reuse; callers that
 * spawn a server on it must treat "address in use" as a possible, rare failure.
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`Could not read the port bound on ${host}`));
        return;
      }
      server.close((closeError) => (closeError ? reject(closeError) : resolve(address.port)));
    });
  });
}

/** True when something accepts TCP connections on host:port right now. */
export async function isPortAccepting(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ port, host });
    const finish = (accepting: boolean): void => {
      socket.destroy();
      resolve(accepting);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    // A refused or reset connection is the answer "not accepting", not a fault.
    socket.once('error', () => finish(false));
  });
}
