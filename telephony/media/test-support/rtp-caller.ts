// Test tool: the media side of a caller's phone, as real RTP over UDP on
// loopback. It offers PCMU with telephone-event, records what rtpengine sends
// it, and presses keys as RFC 4733 (RFC 2833) event packets. It does not
// imitate rtpengine or the hub; it is the far end they serve.
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';

export const TELEPHONE_EVENT_PT = 101;
const PCMU_PT = 0;
const EVENT_CODES = '0123456789*#ABCD';

export interface ReceivedPacket {
  at: number;
  payloadType: number;
  sequence: number;
}

export class RtpCaller {
  readonly received: ReceivedPacket[] = [];
  private remote: { host: string; port: number } | undefined;
  private sequence = Math.floor(Math.random() * 0x7fff);
  private timestamp = Math.floor(Math.random() * 0x7fffffff);
  private readonly ssrc = Math.floor(Math.random() * 0xffffffff);

  private constructor(private readonly socket: Socket) {
    socket.on('message', (packet: Buffer) => {
      if (packet.length < 12 || packet[0]! >> 6 !== 2) return; // not RTP version 2 (RTCP goes to the next port)
      this.received.push({ at: Date.now(), payloadType: packet[1]! & 0x7f, sequence: packet.readUInt16BE(2) });
    });
  }

  static async open(host = '127.0.0.1'): Promise<RtpCaller> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => resolve());
    });
    return new RtpCaller(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  offerSdp(): string {
    const { address, port } = this.socket.address();
    return [
      'v=0',
      `o=caller 1 1 IN IP4 ${address}`,
      's=-',
      `c=IN IP4 ${address}`,
      't=0 0',
      `m=audio ${port} RTP/AVP ${PCMU_PT} ${TELEPHONE_EVENT_PT}`,
      'a=rtpmap:0 PCMU/8000',
      `a=rtpmap:${TELEPHONE_EVENT_PT} telephone-event/8000`,
      `a=fmtp:${TELEPHONE_EVENT_PT} 0-16`,
      'a=ptime:20',
      'a=sendrecv',
      '',
    ].join('\r\n');
  }

  /** Takes the address to send to from the answer SDP (rtpengine's side). */
  useAnswer(answerSdp: string): void {
    const port = /^m=audio (\d+)/m.exec(answerSdp)?.[1];
    const host = /^c=IN IP4 ([\d.]+)/m.exec(answerSdp)?.[1];
    if (port === undefined || host === undefined) throw new Error(`No audio address in the answer:\n${answerSdp}`);
    this.remote = { host, port: Number(port) };
  }

  /** Packets received since `since` (ms epoch). */
  receivedSince(since: number): ReceivedPacket[] {
    return this.received.filter((packet) => packet.at >= since);
  }

  /** A 20 ms PCMU packet of silence, as a phone sends while the caller listens. */
  async sendSilence(packets: number): Promise<void> {
    for (let i = 0; i < packets; i++) {
      this.send(PCMU_PT, Buffer.alloc(160, 0xff), false, this.timestamp);
      this.timestamp += 160;
      await sleep(20);
    }
  }

  /**
   * One key press as RFC 4733 events: a start packet with the marker bit,
   * updates every 20 ms with the growing duration, then the end packet three
   * times (the RFC's redundancy for a lossy network), all with one timestamp.
   */
  async pressKey(key: string, durationMs = 100): Promise<void> {
    const code = EVENT_CODES.indexOf(key.toUpperCase());
    if (code < 0 || key.length !== 1) throw new Error(`Not a DTMF key: ${key}`);
    const eventTimestamp = this.timestamp;
    const steps = Math.max(1, Math.round(durationMs / 20));
    for (let step = 1; step <= steps; step++) {
      this.send(TELEPHONE_EVENT_PT, eventPayload(code, false, step * 160), step === 1, eventTimestamp);
      await sleep(20);
    }
    for (let i = 0; i < 3; i++) this.send(TELEPHONE_EVENT_PT, eventPayload(code, true, steps * 160), false, eventTimestamp);
    this.timestamp += (steps + 1) * 160;
    await sleep(20);
  }

  async pressKeys(keys: string, gapMs = 80): Promise<void> {
    for (const key of keys) {
      await this.pressKey(key);
      await sleep(gapMs);
    }
  }

  close(): void {
    this.socket.close();
  }

  private send(payloadType: number, payload: Buffer, marker: boolean, timestamp: number): void {
    if (this.remote === undefined) throw new Error('useAnswer() first');
    const packet = Buffer.alloc(12 + payload.length);
    packet[0] = 0x80;
    packet[1] = (marker ? 0x80 : 0) | payloadType;
    packet.writeUInt16BE(this.sequence, 2);
    packet.writeUInt32BE(timestamp >>> 0, 4);
    packet.writeUInt32BE(this.ssrc >>> 0, 8);
    payload.copy(packet, 12);
    this.sequence = (this.sequence + 1) & 0xffff;
    this.socket.send(packet, this.remote.port, this.remote.host);
  }
}

function eventPayload(code: number, end: boolean, duration: number): Buffer {
  const payload = Buffer.alloc(4);
  payload[0] = code;
  payload[1] = (end ? 0x80 : 0) | 10; // volume -10 dBm0
  payload.writeUInt16BE(duration, 2);
  return payload;
}
