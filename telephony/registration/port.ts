/**
 * SIP registration as the rest of the hub sees it, beside the call-control port: REGISTERs that
 * phones send to the hub (the hub is their registrar), and REGISTERs the hub sends to carriers
 * (the hub is their user agent). The drachtio-srf adapter (telephony/sip/adapter.ts) implements it.
 */
import type { SipCredentials } from '../call-control.js';

/** One Contact of a REGISTER, with its own `expires` parameter when it has one. */
export interface ContactBinding {
  uri: string;
  expires: number | undefined;
}

/** A REGISTER from a phone, already taken apart by the adapter. */
export interface IncomingRegister {
  /** User part of the To header: the address of record being registered. */
  aorUser: string;
  /** `*` is "remove every binding" (only with Expires: 0). */
  contacts: ContactBinding[] | '*';
  /** The Expires header, when present. */
  expires: number | undefined;
  /** The Authorization header, when present. */
  authorization: string | undefined;
  /** Where the REGISTER came from (address:port), for logs. */
  source: string;
  callId: string;
}

export interface RegisterAnswer {
  status: number;
  reason: string;
  headers?: Record<string, string>;
}

export interface OutgoingRegister {
  /** Request-URI: the registrar (`sip:carrier.example:5060`). */
  uri: string;
  /** Address of record (`sip:hub-01@carrier.example`): From and To. */
  aor: string;
  /** The user part of the Contact (the hub's own address is filled in by the SIP server). */
  contactUser: string;
  expiresSeconds: number;
  auth: SipCredentials;
  /** Kept across refreshes, as RFC 3261 10.2.4 asks. */
  callId: string;
  cseq: number;
  timeoutMs: number;
}

export type OutgoingRegisterResult =
  | { ok: true; sipStatus: number; expiresSeconds: number; cseq: number }
  | { ok: false; sipStatus: number | undefined; reason: string; cseq: number };

export interface Registrations {
  /** Handler for REGISTERs from phones; one at a time per process (the last one set wins). */
  onRegister(handler: (request: IncomingRegister) => RegisterAnswer | Promise<RegisterAnswer>): void;
  /** Sends a REGISTER (answering 401/407 with the credentials) and reports the registrar's final answer. */
  register(request: OutgoingRegister): Promise<OutgoingRegisterResult>;
}
