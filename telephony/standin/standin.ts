/**
 * TEST STAND-IN for drachtio-server, which cannot be installed here (it ships only as a C++ build
 * or a Docker image). Production runs the real drachtio-server (docker-compose.yml); tests and the
 * embedded default run this.
 *
 * It speaks the drachtio wire protocol over TCP to unmodified drachtio-srf clients and real SIP over
 * UDP to the network, and keeps drachtio-server's documented division of labour: the server owns
 * transports, transactions and timers (100 Trying, ACK for non-2xx, 200 + 487 for CANCEL, 2xx
 * retransmission until ACK, Via/Call-ID/CSeq/tags/Contact); the application sends responses, the
 * ACK for 2xx, CANCEL and in-dialog requests. Covered: authenticate, route/remove_route, ping,
 * requests outside and inside dialogs (INVITE, re-INVITE, BYE, INFO, REFER, NOTIFY, OPTIONS, ...),
 * CANCEL, and cdr:attempt/start/stop events. REGISTER is handled as drachtio-server handles it
 * for an application registrar: it reaches the client that routed `register` (srf.use('register'))
 * as a non-INVITE server transaction, with no 100 Trying; the application's answer goes out as
 * written (401 + WWW-Authenticate, 423 + Min-Expires, 200 with the bound Contacts and their
 * expires); without such a client the server answers 503. REGISTERs the application sends
 * (srf.request) leave with the application's Call-ID and CSeq, so refreshes stay on one Call-ID,
 * and drachtio-srf answers 401/407 itself. Not covered: `proxy`, TCP/TLS/WS SIP transports,
 * PRACK/100rel, outbound DNS SRV (A records only), drachtio-server's own registrar/outbound
 * registration features (applications do this themselves here).
 */
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../core/logger.js';
import {
  SipMessage,
  SipParseError,
  formatNameAddr,
  parseNameAddr,
  parseSipUri,
  tagOf,
} from './sip-message.js';
import {
  DEFAULT_TIMERS,
  TransactionLayer,
  UdpTransport,
  newBranch,
  newTag,
  type ClientTransaction,
  type Destination,
  type ServerTransaction,
} from './transactions.js';
import { WireDecoder, frame, newMessageId, parseClientMessage, wireTime, type ClientMessage } from './wire.js';

export interface DrachtioStandinOptions {
  /** TCP control address for drachtio-srf clients. */
  controlHost: string;
  controlPort: number;
  secret: string;
  /** UDP SIP address. Each SIP peer in tests has its own loopback address, this one included. */
  sipAddress: string;
  sipPort: number;
  logger?: Logger;
  /** SIP timers (T1 500 ms by default); tests shrink T1 to see Timer B and ACK timeouts quickly. */
  timers?: { t1: number; t2: number; t4: number };
}

export interface StandinStats {
  malformedDatagrams: number;
  activeDialogs: number;
  activeTransactions: number;
  connectedClients: number;
}

const VERSION = 'v0.9.2-standin';
const OWNED_REQUEST_HEADERS = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length', 'route']);

interface ClientConnection {
  socket: Socket;
  decoder: WireDecoder;
  authenticated: boolean;
  routes: Set<string>;
}

type DialogRole = 'uac' | 'uas';

interface Dialog {
  id: string;
  role: DialogRole;
  client: ClientConnection;
  callId: string;
  localTag: string;
  remoteTag: string;
  /** From/To as this side writes them (local is our From in requests we send). */
  localNameAddr: string;
  remoteNameAddr: string;
  remoteTarget: string;
  /** Route set in the order requests we send must carry it. */
  routeSet: string[];
  localCseq: number;
  /** CSeq of the last INVITE we sent, for its ACK. */
  inviteCseq: number;
  destination: Destination;
  /** Last ACK we sent for a 2xx, repeated when the 2xx is retransmitted. */
  lastAck: SipMessage | undefined;
  /** UAS: our 2xx, retransmitted until the ACK arrives. */
  pendingAck: { data: SipMessage; timer: NodeJS.Timeout; giveUp: NodeJS.Timeout } | undefined;
}

interface OutboundRequest {
  txnId: string;
  client: ClientConnection;
  request: SipMessage;
  transaction: ClientTransaction | undefined;
  dialog: Dialog | undefined;
  cancelWanted: SipMessage | undefined;
  finalSeen: boolean;
}

interface InboundRequest {
  txnId: string;
  client: ClientConnection;
  transaction: ServerTransaction;
  dialog: Dialog | undefined;
  cancelled: boolean;
}

export class DrachtioStandin {
  private readonly transport: UdpTransport;
  private readonly transactions: TransactionLayer;
  private server: Server | undefined;
  private readonly clients = new Set<ClientConnection>();
  private readonly dialogs = new Map<string, Dialog>();
  /** callId|localTag|remoteTag -> dialog, for requests arriving from the network. */
  private readonly dialogsByTags = new Map<string, Dialog>();
  private readonly outbound = new Map<string, OutboundRequest>();
  private readonly inbound = new Map<string, InboundRequest>();
  private readonly inboundByTransaction = new Map<ServerTransaction, InboundRequest>();
  private routeCursor = 0;
  private txnCounter = 0;
  private controlPortBound: number;

  constructor(private readonly options: DrachtioStandinOptions) {
    this.transport = new UdpTransport(options.sipAddress, options.sipPort);
    this.controlPortBound = options.controlPort;
    this.transactions = new TransactionLayer(
      this.transport,
      {
        onRequest: (request, source, bytes, transaction) => this.guard(() => this.onNetworkRequest(request, source, bytes, transaction)),
        onStrayResponse: (response) => this.guard(() => this.onStrayResponse(response)),
      },
      options.timers ?? DEFAULT_TIMERS,
    );
    this.transport.onMalformed((error, source) => {
      options.logger?.debug({ err: error.message, source }, 'dropped a malformed SIP datagram');
    });
  }

  get controlPort(): number {
    return this.controlPortBound;
  }

  get sipPort(): number {
    return this.transport.port;
  }

  get sipAddress(): string {
    return this.transport.address;
  }

  get stats(): StandinStats {
    return {
      malformedDatagrams: this.transport.stats.malformed,
      activeDialogs: this.dialogs.size,
      activeTransactions: this.transactions.activeTransactions,
      connectedClients: this.clients.size,
    };
  }

  async start(): Promise<void> {
    await this.transport.start();
    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.controlPort, this.options.controlHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address && typeof address === 'object') this.controlPortBound = address.port;
  }

  async stop(): Promise<void> {
    for (const dialog of this.dialogs.values()) this.stopAckWait(dialog);
    this.transactions.close();
    for (const client of this.clients) client.socket.destroy();
    this.clients.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.transport.close();
  }

  /** A fault in one message must not take the server down: log it and carry on. */
  private guard(action: () => void | Promise<void>): void {
    try {
      const result = action();
      if (result instanceof Promise) {
        result.catch((error: unknown) => this.options.logger?.warn({ err: error }, 'stand-in failed to handle a message'));
      }
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'stand-in failed to handle a message');
    }
  }

  private get hostport(): string {
    return `${this.sipAddress}:${this.sipPort}`;
  }

  private nextTxnId(): string {
    this.txnCounter = (this.txnCounter + 1) % Number.MAX_SAFE_INTEGER;
    return `${newMessageId().slice(0, 8)}-${this.txnCounter}`;
  }

  // ---------------------------------------------------------------- control connections

  private onConnection(socket: Socket): void {
    socket.setNoDelay(true);
    const client: ClientConnection = { socket, decoder: new WireDecoder(), authenticated: false, routes: new Set() };
    this.clients.add(client);
    socket.on('data', (chunk: Buffer) => {
      let payloads: string[];
      try {
        payloads = client.decoder.push(chunk);
      } catch (error) {
        this.options.logger?.warn({ err: error }, 'closing a control connection that broke the framing');
        socket.destroy();
        return;
      }
      for (const payload of payloads) this.guard(() => this.onClientMessage(client, parseClientMessage(payload)));
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onDisconnect(client));
  }

  private onDisconnect(client: ClientConnection): void {
    this.clients.delete(client);
    for (const dialog of [...this.dialogs.values()]) {
      if (dialog.client === client) this.removeDialog(dialog);
    }
    for (const [txnId, request] of this.outbound) if (request.client === client) this.outbound.delete(txnId);
    for (const [txnId, request] of this.inbound) {
      if (request.client !== client) continue;
      this.inbound.delete(txnId);
      this.inboundByTransaction.delete(request.transaction);
      if (request.transaction.isInvite) request.transaction.respond(this.localResponse(request.transaction, 503, 'Service Unavailable'));
    }
  }

  private send(client: ClientConnection, payload: string): void {
    if (!client.socket.destroyed) client.socket.write(frame(payload));
  }

  private reply(client: ClientConnection, msgId: string, ok: boolean, ...rest: string[]): void {
    this.send(client, [newMessageId(), 'response', msgId, ok ? 'OK' : 'NO', ...rest].join('|'));
  }

  private onClientMessage(client: ClientConnection, message: ClientMessage): void {
    if (!client.authenticated && message.type !== 'authenticate') {
      client.socket.destroy();
      return;
    }
    switch (message.type) {
      case 'authenticate':
        if (message.args[0] === this.options.secret) {
          client.authenticated = true;
          this.reply(client, message.msgId, true, `udp/${this.hostport}`, VERSION, `udp/${this.hostport}`);
        } else {
          this.reply(client, message.msgId, false, 'incorrect secret');
          // drachtio-server drops the client; a moment's grace lets drachtio-srf read the answer and
          // disconnect itself (after our close it would only keep reconnecting).
          setTimeout(() => client.socket.end(), 500).unref();
        }
        return;
      case 'route':
        client.routes.add((message.args[0] ?? '').toLowerCase());
        this.reply(client, message.msgId, true);
        return;
      case 'remove_route':
        client.routes.delete((message.args[0] ?? '').toLowerCase());
        this.reply(client, message.msgId, true);
        return;
      case 'ping':
        this.reply(client, message.msgId, true);
        return;
      case 'sip':
        this.onClientSip(client, message);
        return;
      case 'proxy':
        this.reply(client, message.msgId, false, 'proxy is not supported by the drachtio-server stand-in');
        return;
      default:
        this.reply(client, message.msgId, false, 'Unknown message type');
        client.socket.end();
    }
  }

  private onClientSip(client: ClientConnection, message: ClientMessage): void {
    const [txnId = '', dialogId = '', proxy = ''] = message.args;
    let sip: SipMessage;
    try {
      sip = parseLooseSip(message.sip ?? '');
    } catch (error) {
      this.reply(client, message.msgId, false, `invalid SIP message: ${(error as Error).message}`);
      return;
    }
    try {
      if (!sip.isRequest) {
        this.respondToNetwork(client, message.msgId, txnId, sip);
        return;
      }
      if (dialogId) {
        this.sendInDialog(client, message.msgId, dialogId, sip);
        return;
      }
      if (sip.method === 'CANCEL' && txnId) {
        this.cancelOutbound(client, message.msgId, txnId, sip);
        return;
      }
      if (sip.method === 'ACK') {
        // ACK for a non-2xx: the transaction layer already sent it.
        this.reply(client, message.msgId, true);
        return;
      }
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'stand-in could not carry out a client SIP message');
      this.reply(client, message.msgId, false, `cannot handle message: ${(error as Error).message}`);
      return;
    }
    // Whatever goes wrong, the application gets an answer to its request, never silence.
    this.sendOutOfDialog(client, message.msgId, sip, proxy).catch((error: unknown) => {
      this.reply(client, message.msgId, false, `cannot send request: ${(error as Error).message}`);
    });
  }

  // ---------------------------------------------------------------- requests from the application

  private async sendOutOfDialog(client: ClientConnection, msgId: string, request: SipMessage, proxy: string): Promise<void> {
    let destination: Destination;
    try {
      destination = await this.resolve(proxy || request.get('route') || request.uri || '');
    } catch (error) {
      this.reply(client, msgId, false, `cannot resolve destination: ${(error as Error).message}`);
      return;
    }
    const method = request.method ?? '';
    request.prepend('Via', `SIP/2.0/UDP ${this.hostport};rport;branch=${newBranch()}`);
    if (!request.has('max-forwards')) request.set('Max-Forwards', '70');
    const from = request.get('from') ? this.localise(request.get('from')!) : `<sip:${this.hostport}>`;
    request.set('From', tagOf(from) ? from : `${from};tag=${newTag()}`);
    if (!request.has('to')) request.set('To', `<${request.uri ?? ''}>`);
    if (!request.has('call-id')) request.set('Call-ID', `${newMessageId()}@${this.sipAddress}`);
    if (!request.has('cseq')) request.set('CSeq', `1 ${method}`);
    if (request.has('contact')) request.set('Contact', this.localise(request.get('contact')!));
    else if (['INVITE', 'SUBSCRIBE', 'REFER'].includes(method)) request.set('Contact', `<sip:${this.hostport}>`);
    if (request.body && !request.has('content-type')) request.set('Content-Type', 'application/sdp');

    const txnId = this.nextTxnId();
    const pending: OutboundRequest = { txnId, client, request, transaction: undefined, dialog: undefined, cancelWanted: undefined, finalSeen: false };
    this.outbound.set(txnId, pending);
    // The echo carries the request as sent: drachtio-srf builds its Request object from it.
    this.echo(client, msgId, Buffer.byteLength(request.toString()), destination, txnId, '', request);
    if (method === 'INVITE') this.cdr('attempt', 'application', request);
    pending.transaction = this.transactions.sendRequest(request, destination, {
      onResponse: (response, source, bytes) => this.guard(() => this.onOutboundResponse(pending, response, source, bytes)),
      onTimeout: () => this.guard(() => this.onOutboundTimeout(pending)),
    });
  }

  private onOutboundResponse(pending: OutboundRequest, response: SipMessage, source: Destination, bytes: number): void {
    const status = response.status ?? 0;
    const method = pending.request.method ?? '';
    let dialogId = '';
    if (method === 'INVITE' && status >= 200 && status < 300) {
      pending.dialog = this.createUacDialog(pending, response, source);
      dialogId = pending.dialog.id;
      this.cdr('start', 'network', response, 'uac');
    } else if (method === 'INVITE' && status > 100 && status < 200 && tagOf(response.get('to'))) {
      dialogId = this.dialogIdFor(pending.request.callId, tagOf(pending.request.get('from')) ?? '');
    }
    if (status >= 200) {
      pending.finalSeen = true;
      this.outbound.delete(pending.txnId);
      if (method === 'INVITE' && status >= 300) this.cdr('stop', 'network', response, status === 487 ? 'call-canceled' : 'call-rejected');
    } else if (pending.cancelWanted && pending.transaction) {
      this.sendCancel(pending);
    }
    this.toClient(pending.client, 'network', bytes, source, pending.txnId, dialogId, response);
  }

  private onOutboundTimeout(pending: OutboundRequest): void {
    if (pending.finalSeen) return;
    pending.finalSeen = true;
    this.outbound.delete(pending.txnId);
    const timeout = SipMessage.response(408, 'Request Timeout');
    for (const name of ['via', 'from', 'to', 'call-id', 'cseq']) {
      for (const value of pending.request.getAll(name)) timeout.add(name, value);
    }
    if (pending.request.method === 'INVITE') this.cdr('stop', 'application', timeout, 'call-rejected');
    const destination = pending.transaction?.destination ?? { address: this.sipAddress, port: this.sipPort };
    this.toClient(pending.client, 'network', 0, destination, pending.txnId, '', timeout);
  }

  private cancelOutbound(client: ClientConnection, msgId: string, txnId: string, cancel: SipMessage): void {
    const pending = this.outbound.get(txnId);
    this.reply(client, msgId, true, 'application', '0', 'udp', '', '', wireTime(), txnId, '');
    if (!pending || pending.finalSeen || !pending.transaction) return;
    pending.cancelWanted = cancel;
    // RFC 3261 9.1: no CANCEL before a provisional response; it goes out with the first one.
    if (pending.transaction.state === 'proceeding') this.sendCancel(pending);
    pending.transaction.armCancelGuard();
  }

  private sendCancel(pending: OutboundRequest): void {
    const extra = pending.cancelWanted;
    pending.cancelWanted = undefined;
    const invite = pending.request;
    const cancel = SipMessage.request('CANCEL', invite.uri ?? '');
    cancel.add('Via', invite.getAll('via')[0] ?? '');
    for (const route of invite.getAll('route')) cancel.add('Route', route);
    cancel.add('Max-Forwards', '70');
    cancel.add('From', invite.get('from') ?? '');
    cancel.add('To', invite.get('to') ?? '');
    cancel.add('Call-ID', invite.callId);
    cancel.add('CSeq', `${invite.cseq.seq} CANCEL`);
    for (const header of extra?.headers ?? []) {
      if (/^(reason|x-)/i.test(header.name)) cancel.add(header.name, header.value);
    }
    this.transactions.sendRequest(cancel, pending.transaction!.destination, { onResponse: () => {}, onTimeout: () => {} });
  }

  private sendInDialog(client: ClientConnection, msgId: string, dialogId: string, template: SipMessage): void {
    const dialog = this.dialogs.get(dialogId);
    const method = template.method ?? '';
    if (!dialog) {
      this.reply(client, msgId, false, `unable to find dialog for ${method} ${dialogId}`);
      return;
    }
    const request = SipMessage.request(method, dialog.remoteTarget);
    request.add('Via', `SIP/2.0/UDP ${this.hostport};rport;branch=${newBranch()}`);
    for (const route of dialog.routeSet) request.add('Route', route);
    request.add('Max-Forwards', '70');
    request.add('From', dialog.localNameAddr);
    request.add('To', dialog.remoteNameAddr);
    request.add('Call-ID', dialog.callId);
    if (method === 'ACK') {
      request.add('CSeq', `${dialog.inviteCseq} ACK`);
    } else {
      dialog.localCseq++;
      if (method === 'INVITE') dialog.inviteCseq = dialog.localCseq;
      request.add('CSeq', `${dialog.localCseq} ${method}`);
    }
    for (const header of template.headers) {
      if (OWNED_REQUEST_HEADERS.has(header.name.toLowerCase())) continue;
      request.add(header.name, header.name.toLowerCase() === 'contact' ? this.localise(header.value) : header.value);
    }
    if (method === 'INVITE' && !request.has('contact')) request.add('Contact', `<sip:${this.hostport}>`);
    request.body = template.body;
    if (request.body && !request.has('content-type')) request.set('Content-Type', 'application/sdp');

    if (method === 'ACK') {
      dialog.lastAck = request;
      const bytes = this.transactions.sendStateless(request, dialog.destination);
      this.echo(client, msgId, bytes, dialog.destination, '', dialog.id, request);
      return;
    }
    const txnId = this.nextTxnId();
    const pending: OutboundRequest = { txnId, client, request, transaction: undefined, dialog, cancelWanted: undefined, finalSeen: false };
    this.outbound.set(txnId, pending);
    this.echo(client, msgId, Buffer.byteLength(request.toString()), dialog.destination, txnId, dialog.id, request);
    pending.transaction = this.transactions.sendRequest(request, dialog.destination, {
      onResponse: (response, source, bytes) =>
        this.guard(() => {
          const status = response.status ?? 0;
          if (status >= 200) {
            pending.finalSeen = true;
            this.outbound.delete(txnId);
            if (method === 'BYE') {
              this.cdr('stop', 'application', request, 'normal-release');
              this.removeDialog(dialog);
            }
          }
          this.toClient(client, 'network', bytes, source, txnId, dialog.id, response);
        }),
      onTimeout: () =>
        this.guard(() => {
          if (method === 'BYE') this.removeDialog(dialog);
          this.onOutboundTimeout(pending);
        }),
    });
  }

  // ---------------------------------------------------------------- requests from the network

  private onNetworkRequest(request: SipMessage, source: Destination, bytes: number, transaction: ServerTransaction | undefined): void {
    const method = request.method ?? '';
    if (method === 'ACK') {
      this.onNetworkAck(request, source, bytes);
      return;
    }
    if (!transaction) return;
    if (method === 'CANCEL') {
      this.onNetworkCancel(request, source, bytes, transaction);
      return;
    }
    // Every INVITE, re-INVITEs included, gets 100 Trying from the server, never from the application.
    if (method === 'INVITE') transaction.respond(this.localResponse(transaction, 100, 'Trying'));
    const toTag = tagOf(request.get('to'));
    if (toTag) {
      const dialog = this.dialogsByTags.get(`${request.callId}|${toTag}|${tagOf(request.get('from')) ?? ''}`);
      if (!dialog) {
        transaction.respond(this.localResponse(transaction, 481, 'Call/Transaction Does Not Exist'));
        return;
      }
      this.forwardToClient(dialog.client, request, source, bytes, transaction, dialog);
      return;
    }
    const client = this.pickClient(method.toLowerCase());
    if (!client) {
      if (method === 'OPTIONS') {
        transaction.respond(this.localResponse(transaction, 200, 'OK').add('Allow', 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REFER, NOTIFY'));
      } else {
        transaction.respond(this.localResponse(transaction, 503, 'Service Unavailable'));
      }
      return;
    }
    if (method === 'INVITE') this.cdr('attempt', 'network', request);
    this.forwardToClient(client, request, source, bytes, transaction, undefined);
  }

  private forwardToClient(
    client: ClientConnection,
    request: SipMessage,
    source: Destination,
    bytes: number,
    transaction: ServerTransaction,
    dialog: Dialog | undefined,
  ): void {
    const txnId = this.nextTxnId();
    const pending: InboundRequest = { txnId, client, transaction, dialog, cancelled: false };
    this.inbound.set(txnId, pending);
    this.inboundByTransaction.set(transaction, pending);
    this.toClient(client, 'network', bytes, source, txnId, dialog?.id ?? '', request);
  }

  private onNetworkCancel(cancel: SipMessage, source: Destination, bytes: number, transaction: ServerTransaction): void {
    const branch = parseTopBranch(cancel);
    const invite = this.transactions.findServer(branch, source, 'INVITE');
    if (!invite) {
      transaction.respond(this.localResponse(transaction, 481, 'Call/Transaction Does Not Exist'));
      return;
    }
    transaction.respond(this.localResponse(transaction, 200, 'OK'));
    if (invite.state !== 'proceeding') return;
    const pending = this.inboundByTransaction.get(invite);
    const terminated = this.localResponse(invite, 487, 'Request Terminated');
    invite.respond(terminated);
    this.cdr('stop', 'network', cancel, 'call-canceled');
    if (pending) {
      pending.cancelled = true;
      this.inbound.delete(pending.txnId);
      this.inboundByTransaction.delete(invite);
      this.toClient(pending.client, 'network', bytes, source, pending.txnId, '', cancel);
    }
  }

  private onNetworkAck(ack: SipMessage, source: Destination, bytes: number): void {
    const dialog = this.dialogsByTags.get(`${ack.callId}|${tagOf(ack.get('to')) ?? ''}|${tagOf(ack.get('from')) ?? ''}`);
    if (!dialog) return;
    if (dialog.pendingAck) this.stopAckWait(dialog);
    this.toClient(dialog.client, 'network', bytes, source, '', dialog.id, ack);
  }

  private onStrayResponse(response: SipMessage): void {
    // A retransmitted 2xx to an INVITE means our ACK was lost: send it again.
    if (response.cseq.method !== 'INVITE' || (response.status ?? 0) >= 300) return;
    const dialog = this.dialogsByTags.get(`${response.callId}|${tagOf(response.get('from')) ?? ''}|${tagOf(response.get('to')) ?? ''}`);
    if (dialog?.lastAck && dialog.lastAck.cseq.seq === response.cseq.seq) {
      this.transactions.sendStateless(dialog.lastAck, dialog.destination);
    }
  }

  // ---------------------------------------------------------------- responses from the application

  private respondToNetwork(client: ClientConnection, msgId: string, txnId: string, template: SipMessage): void {
    const pending = this.inbound.get(txnId);
    if (!pending || pending.cancelled) {
      this.reply(client, msgId, false, 'transaction not found or already completed');
      return;
    }
    const { transaction } = pending;
    const request = transaction.request;
    const status = template.status ?? 500;
    const response = SipMessage.response(status, template.reason || 'Unknown');
    for (const via of request.getAll('via')) response.add('Via', via);
    const isDialogForming = request.method === 'INVITE' && !tagOf(request.get('to')) && status > 100 && status < 300;
    if (isDialogForming) for (const route of request.getAll('record-route')) response.add('Record-Route', route);
    response.add('From', request.get('from') ?? '');
    let to = request.get('to') ?? '';
    if (status > 100 && !tagOf(to)) {
      transaction.localTag ??= tagOf(template.get('to')) ?? newTag();
      to = `${to};tag=${transaction.localTag}`;
    }
    response.add('To', to);
    response.add('Call-ID', request.callId);
    response.add('CSeq', request.get('cseq') ?? '');
    for (const header of template.headers) {
      if (OWNED_REQUEST_HEADERS.has(header.name.toLowerCase()) || header.name.toLowerCase() === 'record-route') continue;
      response.add(header.name, header.name.toLowerCase() === 'contact' ? this.localise(header.value) : header.value);
    }
    if (isDialogForming && !response.has('contact')) response.add('Contact', `<sip:${this.hostport}>`);
    response.body = template.body;
    if (response.body && !response.has('content-type')) response.set('Content-Type', 'application/sdp');

    let dialogId = pending.dialog?.id ?? '';
    if (status >= 200) {
      this.inbound.delete(txnId);
      this.inboundByTransaction.delete(transaction);
    }
    const bytes = transaction.respond(response);
    if (bytes === 0) {
      this.reply(client, msgId, false, 'transaction already completed');
      return;
    }
    if (request.method === 'INVITE' && pending.dialog && status >= 200 && status < 300) {
      // A 2xx to a re-INVITE is retransmitted until its ACK just like the first one.
      this.waitForAck(pending.dialog, response);
    }
    if (request.method === 'INVITE' && !pending.dialog) {
      if (status >= 200 && status < 300) {
        const dialog = this.createUasDialog(client, request, response, transaction.source);
        dialogId = dialog.id;
        this.waitForAck(dialog, response);
        this.cdr('start', 'application', response, 'uas');
      } else if (status >= 300) {
        this.cdr('stop', 'application', response, 'call-rejected');
      }
    }
    if (request.method === 'BYE' && pending.dialog && status >= 200) {
      this.cdr('stop', 'network', request, 'normal-release');
      this.removeDialog(pending.dialog);
    }
    this.echo(client, msgId, bytes, transaction.source, txnId, dialogId, response);
  }

  // ---------------------------------------------------------------- dialogs

  private dialogIdFor(callId: string, fromTag: string): string {
    return `${callId};from-tag=${fromTag}`;
  }

  private createUacDialog(pending: OutboundRequest, response: SipMessage, source: Destination): Dialog {
    const request = pending.request;
    const contact = response.get('contact');
    const remoteTarget = contact ? parseNameAddr(contact).uri : request.uri ?? '';
    const routeSet = response.getAll('record-route').reverse();
    const dialog: Dialog = {
      id: this.uniqueDialogId(this.dialogIdFor(request.callId, tagOf(request.get('from')) ?? '')),
      role: 'uac',
      client: pending.client,
      callId: request.callId,
      localTag: tagOf(request.get('from')) ?? '',
      remoteTag: tagOf(response.get('to')) ?? '',
      localNameAddr: request.get('from') ?? '',
      remoteNameAddr: response.get('to') ?? '',
      remoteTarget,
      routeSet,
      localCseq: request.cseq.seq,
      inviteCseq: request.cseq.seq,
      destination: this.destinationFor(remoteTarget, routeSet, source),
      lastAck: undefined,
      pendingAck: undefined,
    };
    this.addDialog(dialog);
    return dialog;
  }

  private createUasDialog(client: ClientConnection, request: SipMessage, response: SipMessage, source: Destination): Dialog {
    const contact = request.get('contact');
    const remoteTarget = contact ? parseNameAddr(contact).uri : `sip:${source.address}:${source.port}`;
    const routeSet = request.getAll('record-route');
    const dialog: Dialog = {
      id: this.uniqueDialogId(this.dialogIdFor(request.callId, tagOf(request.get('from')) ?? '')),
      role: 'uas',
      client,
      callId: request.callId,
      localTag: tagOf(response.get('to')) ?? '',
      remoteTag: tagOf(request.get('from')) ?? '',
      localNameAddr: response.get('to') ?? '',
      remoteNameAddr: request.get('from') ?? '',
      remoteTarget,
      routeSet,
      localCseq: Math.floor(Math.random() * 10_000) + 1,
      inviteCseq: 0,
      destination: this.destinationFor(remoteTarget, routeSet, source),
      lastAck: undefined,
      pendingAck: undefined,
    };
    this.addDialog(dialog);
    return dialog;
  }

  private uniqueDialogId(id: string): string {
    // A call the hub places to itself has one Call-ID and From tag on both sides.
    return this.dialogs.has(id) ? `${id};uas` : id;
  }

  private addDialog(dialog: Dialog): void {
    this.dialogs.set(dialog.id, dialog);
    this.dialogsByTags.set(`${dialog.callId}|${dialog.localTag}|${dialog.remoteTag}`, dialog);
  }

  private removeDialog(dialog: Dialog): void {
    this.stopAckWait(dialog);
    if (this.dialogs.get(dialog.id) === dialog) this.dialogs.delete(dialog.id);
    const key = `${dialog.callId}|${dialog.localTag}|${dialog.remoteTag}`;
    if (this.dialogsByTags.get(key) === dialog) this.dialogsByTags.delete(key);
  }

  /** Where in-dialog requests go: the first loose route, else the remote target, else where the peer spoke from. */
  private destinationFor(remoteTarget: string, routeSet: string[], source: Destination): Destination {
    const next = routeSet[0] ? parseNameAddr(routeSet[0]).uri : remoteTarget;
    try {
      const uri = parseSipUri(next);
      const host = uri.host.replace(/^\[|\]$/g, '');
      if (isIPv4(host)) return { address: host, port: uri.port ?? 5060 };
    } catch (error) {
      if (!(error instanceof SipParseError)) throw error;
    }
    return source;
  }

  /** RFC 3261 13.3.1.4: the UAS core retransmits its 2xx from T1 doubling to T2 until the ACK, for 64*T1. */
  private waitForAck(dialog: Dialog, response: SipMessage): void {
    this.stopAckWait(dialog);
    const retransmit = (interval: number): NodeJS.Timeout => {
      const handle = setTimeout(() => {
        if (!dialog.pendingAck) return;
        this.transactions.sendStateless(response, dialog.destination);
        dialog.pendingAck.timer = retransmit(Math.min(interval * 2, this.transactions.timers.t2));
      }, interval);
      handle.unref();
      return handle;
    };
    const giveUp = setTimeout(() => this.guard(() => this.ackTimedOut(dialog)), 64 * this.transactions.timers.t1);
    giveUp.unref();
    dialog.pendingAck = { data: response, timer: retransmit(this.transactions.timers.t1), giveUp };
  }

  private stopAckWait(dialog: Dialog): void {
    if (!dialog.pendingAck) return;
    clearTimeout(dialog.pendingAck.timer);
    clearTimeout(dialog.pendingAck.giveUp);
    dialog.pendingAck = undefined;
  }

  /** No ACK for our 2xx: hang up towards the network and tell the application with an unsolicited BYE, as drachtio-server does. */
  private ackTimedOut(dialog: Dialog): void {
    dialog.pendingAck = undefined;
    if (!this.dialogs.has(dialog.id)) return;
    const bye = SipMessage.request('BYE', dialog.remoteTarget);
    bye.add('Via', `SIP/2.0/UDP ${this.hostport};rport;branch=${newBranch()}`);
    for (const route of dialog.routeSet) bye.add('Route', route);
    bye.add('Max-Forwards', '70');
    bye.add('From', dialog.localNameAddr);
    bye.add('To', dialog.remoteNameAddr);
    bye.add('Call-ID', dialog.callId);
    bye.add('CSeq', `${++dialog.localCseq} BYE`);
    bye.add('Reason', 'SIP;cause=408;text="ACK timeout"');
    this.transactions.sendRequest(bye, dialog.destination, { onResponse: () => {}, onTimeout: () => {} });
    this.cdr('stop', 'application', bye, 'ack-timeout');
    this.removeDialog(dialog);
    this.toClient(dialog.client, 'application', 0, dialog.destination, 'unsolicited', dialog.id, bye);
  }

  // ---------------------------------------------------------------- helpers

  private pickClient(verb: string): ClientConnection | undefined {
    const candidates = [...this.clients].filter((client) => client.authenticated && client.routes.has(verb));
    if (candidates.length === 0) return undefined;
    this.routeCursor = (this.routeCursor + 1) % candidates.length;
    return candidates[this.routeCursor];
  }

  private toClient(client: ClientConnection, source: 'network' | 'application', bytes: number, peer: Destination, txnId: string, dialogId: string, message: SipMessage): void {
    const text = message.toString();
    const leader = [newMessageId(), 'sip', source, String(bytes || Buffer.byteLength(text)), 'udp', peer.address, String(peer.port), wireTime(), txnId, dialogId, ''].join('|');
    this.send(client, `${leader}\r\n${text}`);
  }

  /** `response|<msgId>|OK|...` followed by the message as it went out (drachtio-srf parses it). */
  private echo(client: ClientConnection, msgId: string, bytes: number, peer: Destination, txnId: string, dialogId: string, message: SipMessage): void {
    const leader = [newMessageId(), 'response', msgId, 'OK', 'application', String(bytes), 'udp', peer.address, String(peer.port), wireTime(), txnId, dialogId].join('|');
    this.send(client, `${leader}\r\n${message.toString()}`);
  }

  private cdr(event: 'attempt' | 'start' | 'stop', source: 'network' | 'application', message: SipMessage, detail?: string): void {
    const verb = `cdr:${event}`;
    const fields = [newMessageId(), verb, source, wireTime(), ...(detail === undefined ? [] : [detail])];
    const payload = `${fields.join('|')}\r\n${message.toString()}`;
    for (const client of this.clients) if (client.authenticated && client.routes.has(verb)) this.send(client, payload);
  }

  private localResponse(transaction: ServerTransaction, status: number, reason: string): SipMessage {
    const request = transaction.request;
    const response = SipMessage.response(status, reason);
    for (const via of request.getAll('via')) response.add('Via', via);
    response.add('From', request.get('from') ?? '');
    let to = request.get('to') ?? '';
    if (status > 100 && !tagOf(to)) {
      transaction.localTag ??= newTag();
      to = `${to};tag=${transaction.localTag}`;
    }
    response.add('To', to);
    response.add('Call-ID', request.callId);
    response.add('CSeq', request.get('cseq') ?? '');
    return response;
  }

  /** drachtio-server's convention: `localhost` in From/Contact means "this server's SIP address". */
  private localise(value: string): string {
    try {
      const nameAddr = parseNameAddr(value);
      const replaced = nameAddr.uri.replace(/@localhost(?=[;>]|$)/i, `@${this.hostport}`).replace(/^(sips?:)localhost(?=[;>]|$)/i, `$1${this.hostport}`);
      if (replaced === nameAddr.uri) return value;
      return formatNameAddr({ ...nameAddr, uri: replaced });
    } catch (error) {
      if (error instanceof SipParseError) return value;
      throw error;
    }
  }

  private async resolve(target: string): Promise<Destination> {
    const uriText = target.includes('<') ? parseNameAddr(target).uri : target;
    const uri = parseSipUri(uriText.startsWith('sip') ? uriText : `sip:${uriText}`);
    const host = uri.host.replace(/^\[|\]$/g, '');
    const port = uri.port ?? 5060;
    if (isIPv4(host)) return { address: host, port };
    const found = await lookup(host, { family: 4 });
    return { address: found.address, port };
  }
}

/** Messages from the application: Content-Length counts characters there, and Via/CSeq may be missing. */
function parseLooseSip(text: string): SipMessage {
  const headerEnd = text.indexOf('\r\n\r\n');
  const head = headerEnd === -1 ? text : text.slice(0, headerEnd);
  const body = headerEnd === -1 ? '' : text.slice(headerEnd + 4);
  const lines = head.split('\r\n').filter((line) => line.length > 0);
  const first = lines.shift() ?? '';
  let message: SipMessage;
  const status = /^SIP\/2\.0 (\d{3})(?: (.*))?$/.exec(first);
  const request = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(first);
  if (status) message = SipMessage.response(Number(status[1]), status[2] ?? '');
  else if (request) message = SipMessage.request(request[1]!.toUpperCase(), request[2]!);
  else throw new SipParseError(`not a SIP start line: ${first.slice(0, 60)}`);
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`malformed header line: ${line.slice(0, 60)}`);
    message.headers.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
  }
  message.body = body;
  return message;
}

function parseTopBranch(message: SipMessage): string {
  const via = message.getAll('via')[0] ?? '';
  return /;\s*branch=([^;\s,]+)/i.exec(via)?.[1] ?? '';
}

