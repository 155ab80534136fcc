/**
 * UDP transport and RFC 3261 transaction layer for the drachtio-server stand-in (see standin.ts).
 *
 * Client transactions retransmit over UDP (Timer A/E), time out (Timer B/F, reported as a
 * synthesised 408 like drachtio-server does) and ACK non-2xx final responses themselves. Server
 * transactions absorb retransmitted requests by repeating the last response, retransmit non-2xx
 * finals until the ACK (Timer G/H), and keep an accepted INVITE around (RFC 6026) so its
 * retransmissions do not look like new calls. 2xx retransmission until ACK belongs to the dialog
 * layer (standin.ts), as RFC 3261 puts it in the UA core.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { SipMessage, SipParseError, parseSipMessage, parseVia } from './sip-message.js';

/** RFC 3261 timer values; tests may shrink T1 (every other timer scales with it except T2/T4 caps). */
export interface SipTimers {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_TIMERS: SipTimers = { t1: 500, t2: 4_000, t4: 5_000 };

export interface Destination {
  address: string;
  port: number;
}

export interface TransportStats {
  received: number;
  sent: number;
  malformed: number;
}

/** One UDP socket; malformed datagrams are counted and dropped. */
export class UdpTransport {
  readonly stats: TransportStats = { received: 0, sent: 0, malformed: 0 };
  private socket: Socket | undefined;
  private handler: (message: SipMessage, source: Destination, bytes: number) => void = () => {};
  private malformedHandler: (error: Error, source: Destination) => void = () => {};

  constructor(
    readonly address: string,
    private requestedPort: number,
  ) {}

  get port(): number {
    return this.requestedPort;
  }

  onMessage(handler: (message: SipMessage, source: Destination, bytes: number) => void): void {
    this.handler = handler;
  }

  onMalformed(handler: (error: Error, source: Destination) => void): void {
    this.malformedHandler = handler;
  }

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.requestedPort, this.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.requestedPort = socket.address().port;
    // A datagram that cannot be sent (peer gone) is the transaction timers' business, not a crash.
    socket.on('error', () => {});
    socket.on('message', (data, rinfo) => {
      this.stats.received++;
      const source = { address: rinfo.address, port: rinfo.port };
      // Keep-alives (CRLF) are legal on SIP transports and carry no message.
      if (data.length <= 4 && data.toString('latin1').trim() === '') return;
      let message: SipMessage;
      try {
        message = parseSipMessage(data.toString('utf8'));
      } catch (error) {
        this.stats.malformed++;
        this.malformedHandler(error instanceof Error ? error : new SipParseError(String(error)), source);
        return;
      }
      this.handler(message, source, data.length);
    });
  }

  send(message: SipMessage, to: Destination): number {
    const data = Buffer.from(message.toString(), 'utf8');
    this.sendRaw(data, to);
    return data.length;
  }

  sendRaw(data: Buffer, to: Destination): void {
    if (!this.socket) return;
    this.stats.sent++;
    this.socket.send(data, to.port, to.address);
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

export function newBranch(): string {
  return `z9hG4bK${randomBytes(8).toString('hex')}`;
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

function topBranch(message: SipMessage): string {
  const top = message.getAll('via')[0];
  if (!top) return '';
  try {
    return parseVia(top).params.get('branch') ?? '';
  } catch {
    return '';
  }
}

function timer(callback: () => void, ms: number): NodeJS.Timeout {
  const handle = setTimeout(callback, ms);
  handle.unref();
  return handle;
}

export interface ClientTransactionHandlers {
  onResponse(response: SipMessage, source: Destination, bytes: number): void;
  /** No final response in time (Timer B/F) or the CANCELled INVITE never ended. */
  onTimeout(): void;
}

export class ClientTransaction {
  state: 'calling' | 'proceeding' | 'completed' | 'terminated' = 'calling';
  private retransmit: NodeJS.Timeout | undefined;
  private timeout: NodeJS.Timeout | undefined;
  private ack: SipMessage | undefined;
  private sentBytes: Buffer;

  constructor(
    private readonly layer: TransactionLayer,
    readonly request: SipMessage,
    readonly destination: Destination,
    private readonly handlers: ClientTransactionHandlers,
  ) {
    this.sentBytes = Buffer.from(request.toString(), 'utf8');
  }

  get branch(): string {
    return topBranch(this.request);
  }

  get key(): string {
    return `${this.branch}|${this.request.method ?? ''}`;
  }

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  get bytes(): number {
    return this.sentBytes.length;
  }

  start(): void {
    this.layer.transport.sendRaw(this.sentBytes, this.destination);
    this.scheduleRetransmit(this.layer.timers.t1);
    this.timeout = timer(() => this.timedOut(), 64 * this.layer.timers.t1);
  }

  private scheduleRetransmit(interval: number): void {
    this.retransmit = timer(() => {
      if (this.state === 'calling' || (!this.isInvite && this.state === 'proceeding')) {
        this.layer.transport.sendRaw(this.sentBytes, this.destination);
        const { t2 } = this.layer.timers;
        const next = this.isInvite ? interval * 2 : Math.min(interval * 2, t2);
        this.scheduleRetransmit(this.state === 'proceeding' ? t2 : next);
      }
    }, interval);
  }

  /** After a CANCEL: the INVITE must end within 64*T1 even if the far end never sends 487. */
  armCancelGuard(): void {
    clearTimeout(this.timeout);
    this.timeout = timer(() => this.timedOut(), 64 * this.layer.timers.t1);
  }

  receive(response: SipMessage, source: Destination, bytes: number): void {
    const status = response.status ?? 0;
    if (this.state === 'completed' || this.state === 'terminated') {
      // Retransmitted final response: repeat our ACK, tell nobody.
      if (this.ack) this.layer.transport.send(this.ack, this.destination);
      return;
    }
    if (status < 200) {
      this.state = 'proceeding';
      if (this.isInvite) {
        clearTimeout(this.retransmit);
        // Timer B only covers "no response at all"; ringing may last as long as the TU wants.
        clearTimeout(this.timeout);
      }
      this.handlers.onResponse(response, source, bytes);
      return;
    }
    clearTimeout(this.retransmit);
    clearTimeout(this.timeout);
    if (this.isInvite && status >= 300) {
      this.ack = this.buildAckForFailure(response);
      this.layer.transport.send(this.ack, this.destination);
      this.state = 'completed';
      timer(() => this.terminate(), 64 * this.layer.timers.t1);
    } else if (this.isInvite) {
      this.terminate();
    } else {
      this.state = 'completed';
      timer(() => this.terminate(), this.layer.timers.t4);
    }
    this.handlers.onResponse(response, source, bytes);
  }

  private buildAckForFailure(response: SipMessage): SipMessage {
    const ack = SipMessage.request('ACK', this.request.uri ?? '');
    const via = this.request.getAll('via')[0];
    if (via) ack.add('Via', via);
    for (const route of this.request.getAll('route')) ack.add('Route', route);
    ack.add('Max-Forwards', '70');
    ack.add('From', this.request.get('from') ?? '');
    ack.add('To', response.get('to') ?? this.request.get('to') ?? '');
    ack.add('Call-ID', this.request.callId);
    ack.add('CSeq', `${this.request.cseq.seq} ACK`);
    return ack;
  }

  private timedOut(): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    clearTimeout(this.retransmit);
    this.terminate();
    this.handlers.onTimeout();
  }

  terminate(): void {
    if (this.state === 'terminated' && !this.layer.hasClient(this)) return;
    this.state = 'terminated';
    clearTimeout(this.retransmit);
    clearTimeout(this.timeout);
    this.layer.forgetClient(this);
  }
}

export class ServerTransaction {
  state: 'proceeding' | 'completed' | 'accepted' | 'confirmed' | 'terminated' = 'proceeding';
  lastResponse: Buffer | undefined;
  lastStatus = 0;
  /** Tag we put in To for this request's responses (one per transaction, as a UAS must). */
  localTag: string | undefined;
  private retransmit: NodeJS.Timeout | undefined;
  private cleanup: NodeJS.Timeout | undefined;

  constructor(
    private readonly layer: TransactionLayer,
    readonly request: SipMessage,
    readonly source: Destination,
    readonly key: string,
  ) {}

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  /** Sends a response for this request; returns the bytes sent, or 0 when it is too late. */
  respond(response: SipMessage): number {
    if (this.state !== 'proceeding') return 0;
    const status = response.status ?? 0;
    const data = Buffer.from(response.toString(), 'utf8');
    this.lastResponse = data;
    this.lastStatus = status;
    this.layer.transport.sendRaw(data, this.source);
    if (status < 200) return data.length;
    if (!this.isInvite) {
      this.state = 'completed';
      this.cleanup = timer(() => this.terminate(), 64 * this.layer.timers.t1);
    } else if (status < 300) {
      this.state = 'accepted';
      this.cleanup = timer(() => this.terminate(), 64 * this.layer.timers.t1);
    } else {
      this.state = 'completed';
      this.scheduleRetransmit(this.layer.timers.t1);
      this.cleanup = timer(() => this.terminate(), 64 * this.layer.timers.t1);
    }
    return data.length;
  }

  private scheduleRetransmit(interval: number): void {
    this.retransmit = timer(() => {
      if (this.state !== 'completed' || !this.lastResponse) return;
      this.layer.transport.sendRaw(this.lastResponse, this.source);
      this.scheduleRetransmit(Math.min(interval * 2, this.layer.timers.t2));
    }, interval);
  }

  /** A retransmitted request: repeat the last response (none yet: nothing to do). */
  retransmitted(): void {
    if (this.state === 'accepted') return;
    if (this.lastResponse && this.state !== 'confirmed') this.layer.transport.sendRaw(this.lastResponse, this.source);
  }

  /** ACK for our non-2xx final response. */
  acknowledged(): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    clearTimeout(this.retransmit);
    clearTimeout(this.cleanup);
    this.cleanup = timer(() => this.terminate(), this.layer.timers.t4);
  }

  terminate(): void {
    this.state = 'terminated';
    clearTimeout(this.retransmit);
    clearTimeout(this.cleanup);
    this.layer.forgetServer(this);
  }
}

export interface TransactionUser {
  /** A new request (not a retransmission, not an ACK for a non-2xx). */
  onRequest(request: SipMessage, source: Destination, bytes: number, transaction: ServerTransaction | undefined): void;
  /** A response that matches no client transaction (a retransmitted 2xx to an INVITE, usually). */
  onStrayResponse(response: SipMessage, source: Destination): void;
}

export class TransactionLayer {
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly servers = new Map<string, ServerTransaction>();

  constructor(
    readonly transport: UdpTransport,
    private readonly user: TransactionUser,
    readonly timers: SipTimers = DEFAULT_TIMERS,
  ) {
    transport.onMessage((message, source, bytes) => this.dispatch(message, source, bytes));
  }

  get activeTransactions(): number {
    return this.clients.size + this.servers.size;
  }

  sendRequest(request: SipMessage, destination: Destination, handlers: ClientTransactionHandlers): ClientTransaction {
    const transaction = new ClientTransaction(this, request, destination, handlers);
    this.clients.set(transaction.key, transaction);
    transaction.start();
    return transaction;
  }

  /** ACK for a 2xx is its own message with no transaction. */
  sendStateless(message: SipMessage, destination: Destination): number {
    return this.transport.send(message, destination);
  }

  findServer(branch: string, source: Destination, method: string): ServerTransaction | undefined {
    return this.servers.get(serverKey(branch, source, method));
  }

  hasClient(transaction: ClientTransaction): boolean {
    return this.clients.get(transaction.key) === transaction;
  }

  forgetClient(transaction: ClientTransaction): void {
    if (this.clients.get(transaction.key) === transaction) this.clients.delete(transaction.key);
  }

  forgetServer(transaction: ServerTransaction): void {
    if (this.servers.get(transaction.key) === transaction) this.servers.delete(transaction.key);
  }

  close(): void {
    for (const transaction of [...this.clients.values()]) transaction.terminate();
    for (const transaction of [...this.servers.values()]) transaction.terminate();
  }

  private dispatch(message: SipMessage, source: Destination, bytes: number): void {
    const branch = topBranch(message);
    if (!message.isRequest) {
      const cseqMethod = message.cseq.method;
      const client = this.clients.get(`${branch}|${cseqMethod}`);
      if (client) client.receive(message, source, bytes);
      else this.user.onStrayResponse(message, source);
      return;
    }
    const method = message.method ?? '';
    if (method === 'ACK') {
      const invite = this.servers.get(serverKey(branch, source, 'INVITE'));
      if (invite && (invite.state === 'completed' || invite.state === 'confirmed')) {
        invite.acknowledged();
        return;
      }
      this.user.onRequest(message, source, bytes, undefined);
      return;
    }
    const key = serverKey(branch, source, method);
    const existing = this.servers.get(key);
    if (existing) {
      existing.retransmitted();
      return;
    }
    const transaction = new ServerTransaction(this, message, source, key);
    this.servers.set(key, transaction);
    this.user.onRequest(message, source, bytes, transaction);
  }
}

function serverKey(branch: string, source: Destination, method: string): string {
  return `${branch}|${source.address}:${source.port}|${method}`;
}
