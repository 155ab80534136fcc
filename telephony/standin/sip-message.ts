/**
 * SIP message parsing and serialisation for the drachtio-server stand-in (see standin.ts).
 *
 * Headers are kept as an ordered list of (name, value) so a message forwarded to the application
 * or to the network keeps what the peer sent. Anything that is not a well-formed SIP message makes
 * `parseSipMessage` throw a `SipParseError`; callers drop the datagram, they never crash.
 */

export class SipParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SipParseError';
  }
}

export interface SipHeader {
  name: string;
  value: string;
}

const compactForms: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  e: 'content-encoding',
  l: 'content-length',
  c: 'content-type',
  f: 'from',
  s: 'subject',
  k: 'supported',
  t: 'to',
  v: 'via',
  r: 'refer-to',
  o: 'event',
  b: 'referred-by',
  u: 'allow-events',
};

const canonicalNames: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  rack: 'RAck',
  rseq: 'RSeq',
};

export function normaliseHeaderName(name: string): string {
  const lower = name.trim().toLowerCase();
  return compactForms[lower] ?? lower;
}

function canonicalHeaderName(name: string): string {
  const lower = normaliseHeaderName(name);
  return canonicalNames[lower] ?? lower.replace(/(^|-)([a-z])/g, (_match, dash: string, letter: string) => dash + letter.toUpperCase());
}

export class SipMessage {
  method: string | undefined;
  uri: string | undefined;
  status: number | undefined;
  reason: string | undefined;
  headers: SipHeader[] = [];
  body = '';

  static request(method: string, uri: string): SipMessage {
    const message = new SipMessage();
    message.method = method;
    message.uri = uri;
    return message;
  }

  static response(status: number, reason: string): SipMessage {
    const message = new SipMessage();
    message.status = status;
    message.reason = reason;
    return message;
  }

  get isRequest(): boolean {
    return this.method !== undefined;
  }

  get(name: string): string | undefined {
    const wanted = normaliseHeaderName(name);
    return this.headers.find((header) => normaliseHeaderName(header.name) === wanted)?.value;
  }

  /** Every value of a header, list headers (Via, Route, ...) split at top-level commas. */
  getAll(name: string): string[] {
    const wanted = normaliseHeaderName(name);
    return this.headers
      .filter((header) => normaliseHeaderName(header.name) === wanted)
      .flatMap((header) => splitHeaderList(header.value));
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Replaces every occurrence of the header with one value, keeping the first one's position. */
  set(name: string, value: string): this {
    const wanted = normaliseHeaderName(name);
    const index = this.headers.findIndex((header) => normaliseHeaderName(header.name) === wanted);
    this.remove(name);
    const header = { name: canonicalHeaderName(name), value };
    if (index === -1) this.headers.push(header);
    else this.headers.splice(index, 0, header);
    return this;
  }

  add(name: string, value: string): this {
    this.headers.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  prepend(name: string, value: string): this {
    this.headers.unshift({ name: canonicalHeaderName(name), value });
    return this;
  }

  remove(name: string): this {
    const wanted = normaliseHeaderName(name);
    this.headers = this.headers.filter((header) => normaliseHeaderName(header.name) !== wanted);
    return this;
  }

  get callId(): string {
    return this.get('call-id') ?? '';
  }

  get cseq(): { seq: number; method: string } {
    return parseCSeq(this.get('cseq') ?? '');
  }

  /** Serialises with a Content-Length counted in bytes (what the peer's parser reads). */
  toString(): string {
    const startLine = this.isRequest
      ? `${this.method ?? ''} ${this.uri ?? ''} SIP/2.0`
      : `SIP/2.0 ${this.status ?? 0} ${this.reason ?? ''}`;
    const lines = [startLine];
    for (const header of this.headers) {
      if (normaliseHeaderName(header.name) === 'content-length') continue;
      lines.push(`${canonicalHeaderName(header.name)}: ${header.value}`);
    }
    lines.push(`Content-Length: ${Buffer.byteLength(this.body, 'utf8')}`);
    return `${lines.join('\r\n')}\r\n\r\n${this.body}`;
  }

  clone(): SipMessage {
    const copy = new SipMessage();
    copy.method = this.method;
    copy.uri = this.uri;
    copy.status = this.status;
    copy.reason = this.reason;
    copy.headers = this.headers.map((header) => ({ ...header }));
    copy.body = this.body;
    return copy;
  }
}

const requestLine = /^([A-Za-z]+) (\S+) SIP\/2\.0$/;
const statusLine = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/;

/**
 * Parses one SIP message. `strictLength` (datagrams from the network) trims the body to
 * Content-Length and rejects a body shorter than announced; messages from the application
 * carry a character count in Content-Length, so there the body is simply what follows.
 */
export function parseSipMessage(text: string, options: { strictLength: boolean } = { strictLength: true }): SipMessage {
  const headerEnd = text.indexOf('\r\n\r\n');
  const head = headerEnd === -1 ? text.replace(/\r\n$/, '') : text.slice(0, headerEnd);
  const rawBody = headerEnd === -1 ? '' : text.slice(headerEnd + 4);
  // Header folding (a line starting with whitespace continues the previous one).
  const lines = head.split('\r\n').reduce<string[]>((acc, line) => {
    if (/^[ \t]/.test(line) && acc.length > 1) acc[acc.length - 1] += ` ${line.trim()}`;
    else acc.push(line);
    return acc;
  }, []);
  const first = lines.shift();
  if (!first) throw new SipParseError('empty message');
  const message = new SipMessage();
  const request = requestLine.exec(first);
  const response = request ? null : statusLine.exec(first);
  if (request) {
    message.method = request[1]!.toUpperCase();
    message.uri = request[2]!;
  } else if (response) {
    message.status = Number(response[1]);
    message.reason = response[2] ?? '';
  } else {
    throw new SipParseError(`not a SIP start line: ${first.slice(0, 80)}`);
  }
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`malformed header line: ${line.slice(0, 80)}`);
    const name = line.slice(0, colon).trim();
    if (!/^[A-Za-z0-9!%*_+`'~.-]+$/.test(name)) throw new SipParseError(`malformed header name: ${name.slice(0, 40)}`);
    message.headers.push({ name, value: line.slice(colon + 1).trim() });
  }
  for (const required of ['call-id', 'cseq', 'from', 'to', 'via']) {
    if (!message.has(required)) throw new SipParseError(`missing ${required}`);
  }
  const cseq = parseCSeq(message.get('cseq') ?? '');
  if (!Number.isFinite(cseq.seq) || !cseq.method) throw new SipParseError('malformed CSeq');
  if (message.isRequest && cseq.method !== message.method && !(message.method === 'ACK' && cseq.method === 'ACK')) {
    throw new SipParseError('CSeq method does not match the request method');
  }
  if (options.strictLength) {
    const declared = message.get('content-length');
    if (declared !== undefined) {
      const length = Number(declared);
      if (!Number.isInteger(length) || length < 0) throw new SipParseError('malformed Content-Length');
      const bytes = Buffer.from(rawBody, 'utf8');
      if (bytes.length < length) throw new SipParseError('body shorter than Content-Length');
      message.body = bytes.subarray(0, length).toString('utf8');
    } else {
      message.body = rawBody;
    }
  } else {
    message.body = rawBody;
  }
  return message;
}

export function parseCSeq(value: string): { seq: number; method: string } {
  const match = /^\s*(\d+)\s+([A-Za-z]+)\s*$/.exec(value);
  return match ? { seq: Number(match[1]), method: match[2]!.toUpperCase() } : { seq: Number.NaN, method: '' };
}

/** Splits a list header at commas that are outside quotes and angle brackets. */
export function splitHeaderList(value: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let index = 0; index < value.length; index++) {
    const char = value[index];
    if (char === '"' && value[index - 1] !== '\\') quoted = !quoted;
    else if (!quoted && char === '<') depth++;
    else if (!quoted && char === '>') depth = Math.max(0, depth - 1);
    else if (!quoted && depth === 0 && char === ',') {
      parts.push(value.slice(start, index).trim());
      start = index + 1;
    }
  }
  parts.push(value.slice(start).trim());
  return parts.filter((part) => part.length > 0);
}

export interface NameAddr {
  display: string;
  uri: string;
  params: Map<string, string>;
}

/** `"Alice" <sip:alice@host>;tag=1` or `sip:alice@host;tag=1` (params after a bare URI belong to the header). */
export function parseNameAddr(value: string): NameAddr {
  const trimmed = value.trim();
  const open = trimmed.indexOf('<');
  let display = '';
  let uri: string;
  let rest: string;
  if (open !== -1) {
    const close = trimmed.indexOf('>', open);
    if (close === -1) throw new SipParseError(`unterminated name-addr: ${trimmed.slice(0, 60)}`);
    display = trimmed.slice(0, open).trim();
    uri = trimmed.slice(open + 1, close).trim();
    rest = trimmed.slice(close + 1);
  } else {
    const semicolon = trimmed.indexOf(';');
    uri = semicolon === -1 ? trimmed : trimmed.slice(0, semicolon);
    rest = semicolon === -1 ? '' : trimmed.slice(semicolon);
  }
  return { display, uri, params: parseParams(rest) };
}

export function formatNameAddr(nameAddr: NameAddr): string {
  const params = [...nameAddr.params].map(([key, value]) => (value === '' ? `;${key}` : `;${key}=${value}`)).join('');
  return `${nameAddr.display ? `${nameAddr.display} ` : ''}<${nameAddr.uri}>${params}`;
}

function parseParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of text.split(';')) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const equals = trimmed.indexOf('=');
    if (equals === -1) params.set(trimmed.toLowerCase(), '');
    else params.set(trimmed.slice(0, equals).trim().toLowerCase(), trimmed.slice(equals + 1).trim());
  }
  return params;
}

export function tagOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return parseNameAddr(value).params.get('tag') || undefined;
}

export interface SipUri {
  scheme: string;
  user: string | undefined;
  host: string;
  port: number | undefined;
  params: Map<string, string>;
}

export function parseSipUri(uri: string): SipUri {
  const match = /^(sips?):(?:([^@;?]+)@)?(\[[^\]]+\]|[^:;?]+)(?::(\d+))?([^?]*)/i.exec(uri.trim());
  if (!match) throw new SipParseError(`not a SIP URI: ${uri.slice(0, 60)}`);
  return {
    scheme: match[1]!.toLowerCase(),
    user: match[2],
    host: match[3]!,
    port: match[4] ? Number(match[4]) : undefined,
    params: parseParams(match[5] ?? ''),
  };
}

export interface Via {
  transport: string;
  host: string;
  port: number | undefined;
  params: Map<string, string>;
}

export function parseVia(value: string): Via {
  const match = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[^\]]+\]|[^\s;:]+)(?:\s*:\s*(\d+))?(.*)$/.exec(value.trim());
  if (!match) throw new SipParseError(`malformed Via: ${value.slice(0, 60)}`);
  return { transport: match[1]!.toUpperCase(), host: match[2]!, port: match[3] ? Number(match[3]) : undefined, params: parseParams(match[4] ?? '') };
}
