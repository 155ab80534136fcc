/**
 * REGISTER requests and responses taken apart for the registration port (telephony/registration/port.ts).
 * Phones send all sorts: several Contacts in one header or many, `expires` as a Contact parameter
 * or a header, `*` to remove everything. Anything that cannot be read is a RegisterParseError,
 * which the adapter answers with 400 and the reason, never a crash.
 */
import type Srf from 'drachtio-srf';
import type { ContactBinding, IncomingRegister, OutgoingRegister, OutgoingRegisterResult } from '../registration/port.js';

export class RegisterParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegisterParseError';
  }
}

/** Splits a header value on commas that are outside quotes and angle brackets. */
export function splitHeaderList(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angled = false;
  for (const char of value) {
    if (char === '"' && !angled) quoted = !quoted;
    else if (char === '<' && !quoted) angled = true;
    else if (char === '>' && !quoted) angled = false;
    if (char === ',' && !quoted && !angled) {
      parts.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  if (current.trim() !== '') parts.push(current.trim());
  return parts;
}

const MAX_EXPIRES = 2 ** 31 - 1;

function parseExpires(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^\d{1,10}$/.test(trimmed)) throw new RegisterParseError(`${what} is not a number of seconds`);
  return Math.min(Number(trimmed), MAX_EXPIRES);
}

/** One Contact value: `"Name" <sip:u@h>;expires=60` or `sip:u@h;expires=60`. */
export function parseContactBinding(value: string): ContactBinding {
  let uri: string;
  let params: string;
  const angled = /^\s*(?:"(?:[^"\\]|\\.)*"\s*|[^<"]*)<([^>]*)>(.*)$/.exec(value);
  if (angled) {
    uri = angled[1]!.trim();
    params = angled[2]!;
  } else {
    // Without angle brackets, parameters after the URI belong to the header (RFC 3261 20.10).
    const semi = value.indexOf(';');
    uri = (semi === -1 ? value : value.slice(0, semi)).trim();
    params = semi === -1 ? '' : value.slice(semi);
  }
  if (!/^sips?:[^\s<>]+$/i.test(uri)) throw new RegisterParseError(`Contact "${value.slice(0, 80)}" has no SIP URI`);
  const expires = /;\s*expires\s*=\s*([^;\s]*)/i.exec(params)?.[1];
  return { uri, expires: parseExpires(expires, 'Contact expires') };
}

/** The user part of the To header's URI (the address of record). */
function aorUserOf(to: string | undefined): string {
  if (!to) throw new RegisterParseError('missing To header');
  const uri = /<([^>]*)>/.exec(to)?.[1] ?? to.split(';')[0]!;
  const user = /^sips?:([^@;>]+)@/i.exec(uri.trim())?.[1];
  if (!user) throw new RegisterParseError('the To header names no user');
  return decodeURIComponent(user);
}

export function parseRegister(req: Srf.SrfRequest): IncomingRegister {
  const contactHeader = req.get('Contact') as string | undefined;
  const expires = parseExpires(req.get('Expires') as string | undefined, 'Expires');
  let contacts: IncomingRegister['contacts'];
  if (contactHeader === undefined || contactHeader.trim() === '') contacts = [];
  else if (contactHeader.trim() === '*') {
    if (expires !== 0) throw new RegisterParseError('Contact "*" needs Expires: 0');
    contacts = '*';
  } else contacts = splitHeaderList(contactHeader).map(parseContactBinding);
  const source = req as unknown as { source_address?: string; source_port?: number };
  return {
    aorUser: aorUserOf(req.get('To') as string | undefined),
    contacts,
    expires,
    authorization: req.get('Authorization') as string | undefined,
    source: `${source.source_address ?? '?'}:${source.source_port ?? '?'}`,
    callId: (req.get('Call-ID') as string | undefined) ?? '',
  };
}

/** The registrar's final answer: granted expiry from our Contact's parameter, else Expires, else what we asked. */
export function parseRegisterResponse(res: Srf.SrfResponse, request: OutgoingRegister): OutgoingRegisterResult {
  const cseq = Number(/^\s*(\d+)/.exec((res.get('CSeq') as string | undefined) ?? '')?.[1] ?? request.cseq);
  if (res.status < 200 || res.status >= 300) {
    return { ok: false, sipStatus: res.status, reason: `REGISTER answered ${res.status} ${res.reason ?? ''}`.trim(), cseq };
  }
  let granted: number | undefined;
  try {
    const contacts = splitHeaderList((res.get('Contact') as string | undefined) ?? '').map(parseContactBinding);
    const ours = contacts.find((contact) => new RegExp(`^sips?:${escapeRegExp(request.contactUser)}@`, 'i').test(contact.uri));
    granted = ours?.expires ?? parseExpires(res.get('Expires') as string | undefined, 'Expires');
  } catch (error) {
    if (!(error instanceof RegisterParseError)) throw error;
    granted = undefined;
  }
  return { ok: true, sipStatus: res.status, expiresSeconds: granted ?? request.expiresSeconds, cseq };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
