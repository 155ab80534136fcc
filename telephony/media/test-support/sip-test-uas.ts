// Test tool: just enough of a SIP user agent server over UDP for one scripted
// IVR call from SIPp (answer an INVITE, take ACK and INFO, send BYE). It is not
// the hub's SIP layer (telephony/sip, on drachtio-srf) and not a stand-in for
// it; it lets the media tests put a real SIP caller in front of rtpengine.
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export interface SipRequest {
  method: string;
  uri: string;
  headers: Map<string, string[]>;
  body: string;
  from: RemoteInfo;
  header(name: string): string | undefined;
}

interface SipResponse {
  status: number;
  headers: Map<string, string[]>;
}

export class SipTestUas {
  private readonly waiting: { method: string; resolve: (request: SipRequest) => void }[] = [];
  private readonly queued: SipRequest[] = [];
  private readonly handlers = new Map<string, (request: SipRequest) => void>();
  private readonly responseWaiters = new Map<string, (response: SipResponse) => void>();
  private readonly sentResponses = new Map<string, string>();
  readonly localTag = randomBytes(6).toString('hex');

  private constructor(private readonly socket: Socket) {
    socket.on('message', (message, from) => this.onMessage(message.toString('utf8'), from));
  }

  static async open(host = '127.0.0.1'): Promise<SipTestUas> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => resolve());
    });
    return new SipTestUas(socket);
  }

  get address(): { host: string; port: number } {
    const { address, port } = this.socket.address();
    return { host: address, port };
  }

  /** Handles every request of this method as it comes (INFO during a collection). */
  on(method: string, handler: (request: SipRequest) => void): void {
    this.handlers.set(method, handler);
  }

  nextRequest(method: string, timeoutMs: number): Promise<SipRequest> {
    const index = this.queued.findIndex((request) => request.method === method);
    if (index >= 0) return Promise.resolve(this.queued.splice(index, 1)[0]!);
    return new Promise<SipRequest>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No ${method} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        method,
        resolve: (request) => {
          clearTimeout(timer);
          resolve(request);
        },
      });
    });
  }

  reply(request: SipRequest, status: number, reason: string, sdp?: string): void {
    const to = request.header('to') ?? '';
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...(request.headers.get('via') ?? []).map((via) => `Via: ${via}`),
      `From: ${request.header('from') ?? ''}`,
      `To: ${/;tag=/.test(to) ? to : `${to};tag=${this.localTag}`}`,
      `Call-ID: ${request.header('call-id') ?? ''}`,
      `CSeq: ${request.header('cseq') ?? ''}`,
      `Contact: <sip:ivr@${this.address.host}:${this.address.port}>`,
      ...(sdp === undefined ? [] : ['Content-Type: application/sdp']),
      `Content-Length: ${Buffer.byteLength(sdp ?? '')}`,
      '',
      sdp ?? '',
    ];
    const text = lines.join('\r\n');
    this.sentResponses.set(transactionKey(request), text);
    this.send(text, request.from);
  }

  /** Ends the dialog the INVITE created; resolves with the status of the answer to the BYE. */
  async bye(invite: SipRequest, timeoutMs: number): Promise<number> {
    const contact = /<([^>]+)>/.exec(invite.header('contact') ?? '')?.[1] ?? `sip:${invite.from.address}:${invite.from.port}`;
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const text = [
      `BYE ${contact} SIP/2.0`,
      `Via: SIP/2.0/UDP ${this.address.host}:${this.address.port};branch=${branch}`,
      `From: ${invite.header('to') ?? ''};tag=${this.localTag}`,
      `To: ${invite.header('from') ?? ''}`,
      `Call-ID: ${invite.header('call-id') ?? ''}`,
      'CSeq: 1 BYE',
      'Max-Forwards: 70',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const answered = new Promise<SipResponse>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No answer to BYE within ${timeoutMs} ms`)), timeoutMs);
      this.responseWaiters.set(branch, (response) => {
        clearTimeout(timer);
        resolve(response);
      });
    });
    this.send(text, invite.from);
    return (await answered).status;
  }

  close(): void {
    this.socket.close();
  }

  private send(text: string, to: RemoteInfo): void {
    this.socket.send(text, to.port, to.address);
  }

  private onMessage(text: string, from: RemoteInfo): void {
    const headEnd = text.indexOf('\r\n\r\n');
    const head = headEnd < 0 ? text : text.slice(0, headEnd);
    const body = headEnd < 0 ? '' : text.slice(headEnd + 4);
    const [startLine = '', ...headerLines] = head.split('\r\n');
    const headers = new Map<string, string[]>();
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    if (startLine.startsWith('SIP/2.0 ')) {
      const branch = /branch=([^;\s]+)/.exec(headers.get('via')?.[0] ?? '')?.[1] ?? '';
      const status = Number(startLine.split(' ')[1]);
      if (status >= 200) this.responseWaiters.get(branch)?.({ status, headers });
      return;
    }
    const [method = '', uri = ''] = startLine.split(' ');
    const request: SipRequest = { method, uri, headers, body, from, header: (name) => headers.get(name)?.[0] };
    const retransmitted = this.sentResponses.get(transactionKey(request));
    if (retransmitted !== undefined) {
      this.send(retransmitted, from);
      return;
    }
    const handler = this.handlers.get(method);
    if (handler !== undefined) {
      handler(request);
      return;
    }
    const waiter = this.waiting.findIndex((candidate) => candidate.method === method);
    if (waiter >= 0) this.waiting.splice(waiter, 1)[0]!.resolve(request);
    else this.queued.push(request);
  }
}

function transactionKey(request: SipRequest): string {
  const branch = /branch=([^;\s]+)/.exec(request.header('via') ?? '')?.[1] ?? '';
  return `${branch} ${request.method}`;
}
