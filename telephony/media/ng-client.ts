// The ng control protocol (bencode over UDP) to one rtpengine, through rtpengine-client.
import rtpengine, { type Client, type NgDestination, type NgReply } from 'rtpengine-client';
import type { Logger } from '../../core/logger.js';

export type { NgDestination, NgReply };

/** rtpengine refused a command or did not answer; `command` and `reason` say which and why. */
export class MediaServerError extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`rtpengine ${command} failed: ${reason}`);
    this.name = 'MediaServerError';
  }
}

type CommandName = 'ping' | 'offer' | 'answer' | 'delete' | 'query' | 'playMedia' | 'stopMedia' | 'blockMedia';

export class NgClient {
  private readonly client: Client;
  private readonly ready: Promise<void>;

  constructor(
    private readonly destination: NgDestination,
    timeoutMs: number,
    logger: Logger,
  ) {
    this.client = new rtpengine.Client({ timeout: timeoutMs });
    this.ready = new Promise<void>((resolve) => this.client.once('listening', () => resolve()));
    // The library emits 'error' for a reply that arrives after its command timed out; without a listener that would crash the hub.
    this.client.on('error', (error: unknown) => logger.warn({ err: error }, 'rtpengine ng client error'));
  }

  /** Sends one command; resolves with rtpengine's reply when its `result` is "ok" (or "pong"), else throws MediaServerError. */
  async command(name: CommandName, parameters: Record<string, unknown> = {}): Promise<NgReply> {
    await this.ready;
    let reply: NgReply;
    try {
      reply = await this.client[name](this.destination, parameters);
    } catch (error) {
      throw new MediaServerError(name, error instanceof Error ? error.message : String(error));
    }
    if (reply.result === 'ok' || reply.result === 'pong') return reply;
    const reason = typeof reply['error-reason'] === 'string' ? reply['error-reason'] : `result ${String(reply.result)}`;
    throw new MediaServerError(name, reason);
  }

  close(): void {
    this.client.close();
  }
}
