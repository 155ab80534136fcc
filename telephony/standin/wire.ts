/**
 * drachtio wire protocol framing for the drachtio-server stand-in (see standin.ts):
 * each message is `<utf8 byte length>#<payload>`, payload `msgId|type|args...`, optionally
 * followed by CRLF and a raw SIP message.
 */
import { randomUUID } from 'node:crypto';

export class WireFramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireFramingError';
  }
}

/** Accumulates TCP chunks and yields complete payloads; throws on a corrupt length prefix. */
export class WireDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const payloads: string[] = [];
    for (;;) {
      const hash = this.buffer.indexOf(0x23); // '#'
      if (hash === -1) {
        if (this.buffer.length > 12) throw new WireFramingError('missing length specifier');
        return payloads;
      }
      const lengthText = this.buffer.toString('latin1', 0, hash);
      if (!/^\d{1,9}$/.test(lengthText)) throw new WireFramingError(`invalid length specifier "${lengthText.slice(0, 12)}"`);
      const length = Number(lengthText);
      if (length === 0) throw new WireFramingError('zero-length message');
      const end = hash + 1 + length;
      if (this.buffer.length < end) return payloads;
      payloads.push(this.buffer.toString('utf8', hash + 1, end));
      this.buffer = this.buffer.subarray(end);
    }
  }
}

export function frame(payload: string): string {
  return `${Buffer.byteLength(payload, 'utf8')}#${payload}`;
}

export function newMessageId(): string {
  return randomUUID();
}

export interface ClientMessage {
  msgId: string;
  type: string;
  args: string[];
  /** Raw SIP after the first CRLF, if any. */
  sip: string | undefined;
}

export function parseClientMessage(payload: string): ClientMessage {
  const crlf = payload.indexOf('\r\n');
  const leader = crlf === -1 ? payload : payload.slice(0, crlf);
  const tokens = leader.split('|');
  return {
    msgId: tokens[0] ?? '',
    type: tokens[1] ?? '',
    args: tokens.slice(2),
    sip: crlf === -1 ? undefined : payload.slice(crlf + 2),
  };
}

/** drachtio-server's time field: wall-clock time of day with microseconds. */
export function wireTime(date = new Date()): string {
  return `${date.toISOString().slice(11, 23)}000`;
}
