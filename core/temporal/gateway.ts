// The API's way to Temporal. It must start and take tasks while Temporal is
// down, so the connection is made lazily and re-attempted on the next call
// instead of failing the process at boot.
import { Client, Connection } from '@temporalio/client';

export class TemporalUnavailableError extends Error {
  constructor(address: string, cause: unknown) {
    super(`Temporal at ${address} is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'TemporalUnavailableError';
  }
}

export class TemporalGateway {
  private connecting: Promise<Client> | undefined;
  private connection: Connection | undefined;

  constructor(
    readonly address: string,
    readonly namespace: string,
  ) {}

  client(): Promise<Client> {
    this.connecting ??= this.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw new TemporalUnavailableError(this.address, error);
    });
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    const connection = await Connection.connect({
      address: this.address,
      connectTimeout: '3 seconds',
      // grpc-js waits up to 120 s between reconnects by default; after an outage
      // the outbox should notice Temporal is back within seconds.
      channelArgs: { 'grpc.max_reconnect_backoff_ms': 5000 },
    });
    this.connection = connection;
    return new Client({ connection, namespace: this.namespace });
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.connecting = undefined;
    await connection?.close();
  }
}
