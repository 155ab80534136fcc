// The stand-in's side of drachtio-server's contract, seen from both ends: real drachtio-srf over
// TCP, and a raw UDP SIP peer (or SIPp) on the network side, so timers and retransmissions show.
import { createSocket, type Socket } from 'node:dgram';
import Srf from 'drachtio-srf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOLD_SDP } from '../testing/hub.js';
import { nextLoopbackAddress, startSipp } from '../testing/sipp.js';
import { SipMessage, parseSipMessage, tagOf } from './sip-message.js';
import { DrachtioStandin } from './standin.js';

const SECRET = 'standin-test';
let standin: DrachtioStandin;
let srf: Srf;
const srfs: Srf[] = [];
/** The one INVITE route of this file's client: each test sets what it does (a second client would share the INVITEs). */
let onInvite: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void = (_req, res) => res.send(480);

async function connect(secret = SECRET): Promise<Srf> {
  const client = new Srf();
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    client.on('connect', (error) => {
      if (!error) return resolve();
      client.disconnect();
      reject(error);
    });
    void client.connect({ host: '127.0.0.1', port: standin.controlPort, secret });
  });
  srfs.push(client);
  return client;
}

function disconnect(client: Srf): void {
  srfs.splice(srfs.indexOf(client), 1);
  client.disconnect();
}

/** A bare UDP SIP endpoint: sends text, waits for messages; every datagram it got is kept. */
class RawPeer {
  readonly received: SipMessage[] = [];
  private waiters: { match: (message: SipMessage) => boolean; resolve: (message: SipMessage) => void }[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    readonly port: number,
    readonly target: DrachtioStandin,
  ) {
    socket.on('message', (data) => {
      const message = parseSipMessage(data.toString('utf8'));
      this.received.push(message);
      const waiter = this.waiters.find((candidate) => candidate.match(message));
      if (waiter) {
        this.waiters = this.waiters.filter((candidate) => candidate !== waiter);
        waiter.resolve(message);
      }
    });
  }

  static async open(target: DrachtioStandin = standin): Promise<RawPeer> {
    const address = nextLoopbackAddress();
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
    return new RawPeer(socket, address, socket.address().port, target);
  }

  send(message: SipMessage | string): void {
    this.socket.send(message.toString(), this.target.sipPort, this.target.sipAddress);
  }

  next(match: (message: SipMessage) => boolean, timeoutMs = 3_000): Promise<SipMessage> {
    const already = this.received.find((message) => match(message) && !this.consumed.has(message));
    if (already) {
      this.consumed.add(already);
      return Promise.resolve(already);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (message) => {
          clearTimeout(timer);
          this.consumed.add(message);
          resolve(message);
        },
      });
    });
  }

  private readonly consumed = new Set<SipMessage>();

  count(match: (message: SipMessage) => boolean): number {
    return this.received.filter(match).length;
  }

  close(): void {
    this.socket.close();
  }

  invite(callId: string, branch: string): SipMessage {
    return request('INVITE', `sip:hub@${this.target.sipAddress}:${this.target.sipPort}`, this, {
      branch, callId, cseq: 1, fromTag: `peer-${callId}`, body: HOLD_SDP,
    });
  }
}

function request(
  method: string,
  uri: string,
  peer: RawPeer,
  options: { branch: string; callId: string; cseq: number; fromTag: string; toTag?: string; body?: string; cseqMethod?: string },
): SipMessage {
  const message = SipMessage.request(method, uri);
  message.add('Via', `SIP/2.0/UDP ${peer.address}:${peer.port};branch=${options.branch}`);
  message.add('Max-Forwards', '70');
  message.add('From', `<sip:peer@${peer.address}:${peer.port}>;tag=${options.fromTag}`);
  message.add('To', `<sip:hub@${peer.target.sipAddress}>${options.toTag ? `;tag=${options.toTag}` : ''}`);
  message.add('Call-ID', options.callId);
  message.add('CSeq', `${options.cseq} ${options.cseqMethod ?? method}`);
  message.add('Contact', `<sip:peer@${peer.address}:${peer.port}>`);
  if (options.body) {
    message.add('Content-Type', 'application/sdp');
    message.body = options.body;
  }
  return message;
}

function responseTo(req: SipMessage, status: number, reason: string, toTag: string, peer: RawPeer, body = ''): SipMessage {
  const response = SipMessage.response(status, reason);
  for (const via of req.getAll('via')) response.add('Via', via);
  response.add('From', req.get('from')!);
  response.add('To', tagOf(req.get('to')) ? req.get('to')! : `${req.get('to')!};tag=${toTag}`);
  response.add('Call-ID', req.callId);
  response.add('CSeq', req.get('cseq')!);
  response.add('Contact', `<sip:peer@${peer.address}:${peer.port}>`);
  if (body) {
    response.add('Content-Type', 'application/sdp');
    response.body = body;
  }
  return response;
}

const isStatus = (status: number, method?: string) => (message: SipMessage) =>
  message.status === status && (!method || message.cseq.method === method);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  standin = new DrachtioStandin({ controlHost: '127.0.0.1', controlPort: 0, secret: SECRET, sipAddress: '127.0.0.1', sipPort: 0 });
  await standin.start();
  srf = await connect();
  srf.invite((req, res) => onInvite(req, res));
});

afterAll(async () => {
  for (const client of srfs) client.disconnect();
  await standin?.stop();
});

describe('control connection', () => {
  it('refuses a client with the wrong secret', async () => {
    await expect(connect('wrong')).rejects.toThrow(/authenticate/);
  });
});

describe('inbound INVITE', () => {
  it('answers 100 Trying itself, retransmits the 2xx until the ACK, then passes the ACK to the dialog', async () => {
    const acks: string[] = [];
    onInvite = (req, res) => {
      void srf.createUAS(req, res, { localSdp: HOLD_SDP }).then((dialog) => dialog.on('ack', () => acks.push(dialog.sip.callId)));
    };
    const peer = await RawPeer.open();
    try {
      const invite = peer.invite('retransmit-1', 'z9hG4bK-rt-1');
      peer.send(invite);
      await peer.next(isStatus(100));
      const ok = await peer.next(isStatus(200, 'INVITE'));
      expect(ok.body).toContain('m=audio');
      // T1 = 500 ms: the first retransmission comes after 500 ms, the next 1 s later.
      await sleep(800);
      expect(peer.count(isStatus(200, 'INVITE'))).toBe(2);
      const ack = request('ACK', parseContact(ok), peer, { branch: 'z9hG4bK-rt-ack', callId: 'retransmit-1', cseq: 1, fromTag: 'peer-retransmit-1', toTag: tagOf(ok.get('to'))! });
      peer.send(ack);
      await sleep(1_300);
      expect(peer.count(isStatus(200, 'INVITE'))).toBe(2);
      expect(acks).toEqual(['retransmit-1']);
      // In-dialog requests from the network reach the dialog; unknown dialogs get 481.
      peer.send(request('INFO', parseContact(ok), peer, { branch: 'z9hG4bK-rt-info', callId: 'retransmit-1', cseq: 2, fromTag: 'peer-retransmit-1', toTag: tagOf(ok.get('to'))! }));
      await peer.next(isStatus(200, 'INFO'));
      peer.send(request('BYE', parseContact(ok), peer, { branch: 'z9hG4bK-rt-bye2', callId: 'nope', cseq: 3, fromTag: 'x', toTag: 'y' }));
      await peer.next(isStatus(481, 'BYE'));
      peer.send(request('BYE', parseContact(ok), peer, { branch: 'z9hG4bK-rt-bye', callId: 'retransmit-1', cseq: 3, fromTag: 'peer-retransmit-1', toTag: tagOf(ok.get('to'))! }));
      await peer.next(isStatus(200, 'BYE'));
      expect(standin.stats.activeDialogs).toBe(0);
    } finally {
      peer.close();
    }
  });

  it('CANCEL: 200 for the CANCEL, 487 for the INVITE, the application hears of it, and the ACK stops the 487', async () => {
    const cancelled: string[] = [];
    onInvite = (req, res) => {
      res.send(180);
      req.on('cancel', () => cancelled.push(req.get('Call-ID')));
    };
    const peer = await RawPeer.open();
    try {
      peer.send(peer.invite('cancel-1', 'z9hG4bK-cancel-1'));
      const ringing = await peer.next(isStatus(180));
      peer.send(request('CANCEL', `sip:hub@${standin.sipAddress}:${standin.sipPort}`, peer, { branch: 'z9hG4bK-cancel-1', callId: 'cancel-1', cseq: 1, fromTag: 'peer-cancel-1' }));
      await peer.next(isStatus(200, 'CANCEL'));
      const terminated = await peer.next(isStatus(487, 'INVITE'));
      expect(tagOf(terminated.get('to'))).toBe(tagOf(ringing.get('to')));
      peer.send(request('ACK', `sip:hub@${standin.sipAddress}:${standin.sipPort}`, peer, { branch: 'z9hG4bK-cancel-1', callId: 'cancel-1', cseq: 1, fromTag: 'peer-cancel-1', toTag: tagOf(terminated.get('to'))! }));
      await sleep(800);
      expect(peer.count(isStatus(487))).toBe(1);
      expect(cancelled).toEqual(['cancel-1']);
    } finally {
      peer.close();
    }
  });
});

describe('hostile traffic', () => {
  it('survives thousands of mutated INVITEs and still sets up the next call', async () => {
    onInvite = (_req, res) => res.send(486);
    const peer = await RawPeer.open();
    try {
      const valid = Buffer.from(peer.invite('fuzz-base', 'z9hG4bK-fuzz').toString(), 'utf8');
      let seed = 42;
      const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      for (let round = 0; round < 3_000; round++) {
        const mutated = Buffer.from(valid);
        for (let flips = 1 + Math.floor(random() * 8); flips > 0; flips--) mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
        const cut = random() < 0.2 ? Math.floor(random() * mutated.length) : mutated.length;
        peer.send(mutated.subarray(0, cut).toString('latin1'));
        if (round % 200 === 0) await sleep(5);
      }
      await sleep(300);
      expect(standin.stats.malformedDatagrams).toBeGreaterThan(100);
      onInvite = (req, res) => void srf.createUAS(req, res, { localSdp: HOLD_SDP });
      peer.send(peer.invite('after-fuzz', 'z9hG4bK-after-fuzz'));
      const ok = await peer.next((message) => message.status === 200 && message.callId === 'after-fuzz');
      expect(ok.body).toContain('m=audio');
    } finally {
      peer.close();
    }
  });
});

describe('requests from the application', () => {
  it('in-dialog re-INVITE and INFO carry the dialog tags and rising CSeq; ACK for the re-INVITE follows', async () => {
    const peer = await RawPeer.open();
    const dialogsBefore = standin.stats.activeDialogs;
    try {
      const dialogPromise = srf.createUAC(`sip:peer@${peer.address}:${peer.port}`, { localSdp: HOLD_SDP, headers: { From: '<sip:hub@localhost>' } });
      const invite = await peer.next((message) => message.method === 'INVITE');
      expect(invite.get('contact')).toContain(`${standin.sipAddress}:${standin.sipPort}`);
      expect(invite.get('from')).toContain(`@${standin.sipAddress}:${standin.sipPort}`);
      peer.send(responseTo(invite, 200, 'OK', 'peer-tag', peer, HOLD_SDP));
      const dialog = await dialogPromise;
      const ack = await peer.next((message) => message.method === 'ACK');
      expect(ack.cseq.seq).toBe(invite.cseq.seq);

      const modified = dialog.modify(HOLD_SDP.replace('a=sendrecv', 'a=sendonly'));
      const reinvite = await peer.next((message) => message.method === 'INVITE' && message !== invite);
      expect(tagOf(reinvite.get('to'))).toBe('peer-tag');
      expect(reinvite.cseq.seq).toBe(invite.cseq.seq + 1);
      expect(reinvite.uri).toBe(`sip:peer@${peer.address}:${peer.port}`);
      peer.send(responseTo(reinvite, 200, 'OK', 'peer-tag', peer, HOLD_SDP));
      await modified;
      const reack = await peer.next((message) => message.method === 'ACK' && message !== ack);
      expect(reack.cseq.seq).toBe(reinvite.cseq.seq);

      const info = dialog.request({ method: 'INFO', headers: { 'Content-Type': 'application/dtmf-relay' }, body: 'Signal=5\r\nDuration=160\r\n' } as unknown as Srf.SrfRequest);
      const infoReq = await peer.next((message) => message.method === 'INFO');
      expect(infoReq.cseq.seq).toBe(reinvite.cseq.seq + 1);
      expect(infoReq.body).toContain('Signal=5');
      peer.send(responseTo(infoReq, 200, 'OK', 'peer-tag', peer));
      expect((await info).status).toBe(200);

      const destroyed = new Promise<void>((resolve) => dialog.destroy(undefined, () => resolve()));
      const bye = await peer.next((message) => message.method === 'BYE');
      peer.send(responseTo(bye, 200, 'OK', 'peer-tag', peer));
      await destroyed;
      expect(standin.stats.activeDialogs).toBe(dialogsBefore);
    } finally {
      peer.close();
    }
  });

  it('reports cdr:attempt, cdr:start and cdr:stop for a call', async () => {
    const cdrs: string[] = [];
    const listener = await connect();
    listener.on('cdr:attempt', (source) => cdrs.push(`attempt:${source}`));
    listener.on('cdr:start', (source, _time, role) => cdrs.push(`start:${source}:${role}`));
    listener.on('cdr:stop', (source, _time, reason) => cdrs.push(`stop:${source}:${reason}`));
    await sleep(100);
    const carrier = await startSipp({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 10 });
    try {
      const dialog = await srf.createUAC(carrier.uri, { localSdp: HOLD_SDP });
      await new Promise<void>((resolve) => dialog.destroy(undefined, () => resolve()));
      expect((await carrier.finished()).successful).toBe(1);
      await sleep(100);
      expect(cdrs).toEqual(['attempt:application', 'start:network:uac', 'stop:application:normal-release']);
    } finally {
      carrier.stop();
      disconnect(listener);
    }
  });
});

function parseContact(message: SipMessage): string {
  return /<([^>]+)>/.exec(message.get('contact') ?? '')?.[1] ?? '';
}

describe('bad messages from the application', () => {
  it('answers NO to SIP it cannot carry out, and keeps serving the connection', async () => {
    const request = srf.request.bind(srf) as unknown as (uri: string, opts: Record<string, unknown>) => Promise<unknown>;
    await expect(request('sip:nobody@no-such-host.invalid', { method: 'OPTIONS' })).rejects.toThrow(/resolve/);
    await expect(request('sip:x@127.0.0.1:1', { method: 'OPTIONS', headers: { From: '<sip:unterminated' } })).rejects.toThrow(/cannot send request/);
    const peer = await RawPeer.open();
    try {
      const sent = request(`sip:peer@${peer.address}:${peer.port}`, { method: 'OPTIONS' });
      await sent;
      const options = await peer.next((message) => message.method === 'OPTIONS');
      expect(options.get('via')).toContain(`${standin.sipAddress}:${standin.sipPort}`);
    } finally {
      peer.close();
    }
  });
});

describe('timers (T1 shrunk to 25 ms, so 64*T1 is 1.6 s)', () => {
  let fast: DrachtioStandin;
  let client: Srf;

  beforeAll(async () => {
    fast = new DrachtioStandin({ controlHost: '127.0.0.1', controlPort: 0, secret: SECRET, sipAddress: '127.0.0.1', sipPort: 0, timers: { t1: 25, t2: 200, t4: 250 } });
    await fast.start();
    client = new Srf();
    client.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      client.on('connect', (error) => (error ? reject(error) : resolve()));
      void client.connect({ host: '127.0.0.1', port: fast.controlPort, secret: SECRET });
    });
  });

  afterAll(async () => {
    client?.disconnect();
    await fast?.stop();
  });

  it('a peer that never ACKs our 2xx gets a BYE, and the application an unsolicited BYE ending its dialog', async () => {
    const destroyed = new Promise<string>((resolve) => {
      client.invite((req, res) => {
        void client.createUAS(req, res, { localSdp: HOLD_SDP }).then((dialog) => dialog.on('destroy', () => resolve(dialog.sip.callId)));
      });
    });
    const peer = await RawPeer.open(fast);
    try {
      const started = Date.now();
      peer.send(peer.invite('no-ack-1', 'z9hG4bK-no-ack'));
      const ok = await peer.next(isStatus(200, 'INVITE'));
      const bye = await peer.next((message) => message.method === 'BYE', 4_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
      expect(tagOf(bye.get('from'))).toBe(tagOf(ok.get('to')));
      expect(peer.count(isStatus(200, 'INVITE'))).toBeGreaterThan(3);
      expect(await destroyed).toBe('no-ack-1');
      expect(fast.stats.activeDialogs).toBe(0);
    } finally {
      peer.close();
    }
  });

  it('a peer that never answers: Timer B ends the INVITE with a 408 the application sees', async () => {
    const address = nextLoopbackAddress();
    const started = Date.now();
    const error = await client.createUAC(`sip:nobody@${address}:9`, { localSdp: HOLD_SDP }).then(
      () => undefined,
      (failure: unknown) => failure as { status?: number },
    );
    expect(error?.status).toBe(408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('REGISTER', () => {
  it('goes to the client that routed register, without 100 Trying; its answers go out as written, a retransmission is absorbed; no such client: 503', async () => {
    const peer = await RawPeer.open();
    const register = (branch: string, cseq: number) => {
      const message = request('REGISTER', `sip:${standin.sipAddress}:${standin.sipPort}`, peer, { branch, callId: 'reg-1', cseq, fromTag: 'reg-tag' });
      message.set('Expires', '120');
      return message;
    };
    let registrar: Srf | undefined;
    try {
      peer.send(register('z9hG4bK-reg-none', 1));
      expect((await peer.next(isStatus(503, 'REGISTER'))).status).toBe(503);

      registrar = await connect();
      const seen: string[] = [];
      registrar.use('register', (req, res) => {
        seen.push(req.get('CSeq') as string);
        if (!req.has('Authorization')) {
          res.send(401, 'Unauthorized', { headers: { 'WWW-Authenticate': 'Digest realm="hub.test", nonce="n1", algorithm=MD5' } });
        } else {
          res.send(200, 'OK', { headers: { Contact: `<sip:peer@${peer.address}:${peer.port}>;expires=120`, Expires: '120' } });
        }
      });
      const first = register('z9hG4bK-reg-1', 2);
      peer.send(first);
      const challenge = await peer.next(isStatus(401, 'REGISTER'));
      expect(challenge.get('www-authenticate')).toBe('Digest realm="hub.test", nonce="n1", algorithm=MD5');
      expect(tagOf(challenge.get('to'))).toBeTruthy();
      // The same REGISTER again (a lost 401): the transaction repeats its answer, the application hears it once.
      peer.send(first);
      await peer.next(isStatus(401, 'REGISTER'));
      const authorised = register('z9hG4bK-reg-2', 3);
      authorised.set('Authorization', 'Digest username="peer", realm="hub.test", nonce="n1", uri="sip:hub", response="0"');
      peer.send(authorised);
      const ok = await peer.next(isStatus(200, 'REGISTER'));
      expect(ok.get('contact')).toBe(`<sip:peer@${peer.address}:${peer.port}>;expires=120`);
      expect(ok.get('expires')).toBe('120');
      expect(seen).toEqual(['2 REGISTER', '3 REGISTER']);
      expect(peer.count(isStatus(100))).toBe(0);
    } finally {
      if (registrar) disconnect(registrar);
      peer.close();
    }
  });
});
