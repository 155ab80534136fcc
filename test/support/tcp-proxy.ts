// A TCP relay in front of a real database server, for tests that need the CRM to
// become unreachable and come back: `down()` drops every open connection and
// refuses new ones (as a dead host or a cut network does to a client), `up()`
// relays again. The database behind it is the real one throughout.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let reachable = true;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!reachable) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  return {
    port,
    down() {
      reachable = false;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    up() {
      reachable = true;
    },
    async close() {
      reachable = false;
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
