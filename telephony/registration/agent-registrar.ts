/**
 * The hub as registrar for its agents' phones. A REGISTER is answered with a digest challenge,
 * then checked against the agent's SIP account; a good one binds the phone's Contact in the
 * roster for the granted time, which is what makes the agent "registered" (and so, once logged in
 * and ready, offerable). Expires: 0 or `Contact: *` removes the binding at once; a binding nobody
 * refreshes lapses in the roster by itself. Decisions only: the SIP adapter parses and answers.
 */
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { AgentRoster } from '../acd/roster.js';
import { DigestAuthenticator, parseDigestAuthorization } from './digest.js';
import type { IncomingRegister, RegisterAnswer, Registrations } from './port.js';

export interface AgentSipAccount {
  agentId: string;
  /** SIP username (the user part of the phone's address of record). */
  username: string;
  password: string;
}

/** Where agents' SIP accounts come from (PostgreSQL in the hub: AgentAccountStore). */
export interface AgentSipAccounts {
  byUsername(username: string): Promise<AgentSipAccount | undefined>;
}

export interface AgentRegistrarOptions {
  /** Digest realm shown to phones. */
  realm: string;
  /** Shorter registrations get 423 Interval Too Brief (RFC 3261 10.3 step 7). */
  minExpiresSeconds?: number;
  /** Longer ones are cut to this. */
  maxExpiresSeconds?: number;
  /** When the phone asks for nothing. */
  defaultExpiresSeconds?: number;
  nonceTtlMs?: number;
}

/** The registrar's settings from the hub's configuration (SIP_REALM, SIP_REGISTER_MIN/MAX_EXPIRES). */
export function registrarOptionsFrom(config: Pick<Config, 'SIP_REALM' | 'SIP_REGISTER_MIN_EXPIRES' | 'SIP_REGISTER_MAX_EXPIRES'>): AgentRegistrarOptions {
  return { realm: config.SIP_REALM, minExpiresSeconds: config.SIP_REGISTER_MIN_EXPIRES, maxExpiresSeconds: config.SIP_REGISTER_MAX_EXPIRES };
}

export type RegistrationEvent =
  | { type: 'registered'; agentId: string; contactUri: string; expiresSeconds: number; source: string }
  | { type: 'unregistered'; agentId: string; source: string }
  | { type: 'refused'; username: string; reason: string; source: string };

const ok = (headers?: Record<string, string>): RegisterAnswer => ({ status: 200, reason: 'OK', ...(headers ? { headers } : {}) });

export class AgentRegistrar {
  private readonly digest: DigestAuthenticator;
  private readonly min: number;
  private readonly max: number;
  private readonly fallback: number;
  private readonly listeners = new Set<(event: RegistrationEvent) => void>();

  constructor(
    private readonly roster: AgentRoster,
    private readonly accounts: AgentSipAccounts,
    options: AgentRegistrarOptions,
    private readonly logger?: Pick<Logger, 'info' | 'warn'>,
  ) {
    this.digest = new DigestAuthenticator(options.realm, options.nonceTtlMs);
    this.min = options.minExpiresSeconds ?? 60;
    this.max = Math.max(this.min, options.maxExpiresSeconds ?? 3600);
    this.fallback = Math.min(this.max, Math.max(this.min, options.defaultExpiresSeconds ?? 3600));
  }

  /** Takes the REGISTERs the SIP adapter receives. */
  attach(registrations: Pick<Registrations, 'onRegister'>): this {
    registrations.onRegister((request) => this.handle(request));
    return this;
  }

  onEvent(listener: (event: RegistrationEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async handle(request: IncomingRegister): Promise<RegisterAnswer> {
    const credentials = parseDigestAuthorization(request.authorization);
    if (credentials === undefined) return this.challenge(false);
    if (credentials.username !== request.aorUser) {
      return this.refuse(credentials.username, request, `credentials of "${credentials.username}" cannot register "${request.aorUser}"`);
    }
    const account = await this.accounts.byUsername(credentials.username);
    if (account === undefined) return this.refuse(credentials.username, request, 'unknown user or wrong password');
    const check = this.digest.check(credentials, 'REGISTER', account.password);
    if (check === 'stale') return this.challenge(true);
    if (check === 'wrong') return this.refuse(credentials.username, request, 'unknown user or wrong password');

    this.roster.add(account.agentId);
    if (request.contacts === '*') return this.remove(account.agentId, request);
    const current = this.roster.view(account.agentId).registration;
    if (request.contacts.length === 0) {
      // A query: the bindings as they stand.
      return ok(current ? { Contact: `<${current.contactUri}>;expires=${this.remaining(current.expiresAt)}` } : undefined);
    }
    // One phone per agent: the first Contact is the one calls go to.
    const contact = request.contacts[0]!;
    const asked = contact.expires ?? request.expires ?? this.fallback;
    if (asked === 0) {
      if (current === undefined || current.contactUri === contact.uri) return this.remove(account.agentId, request);
      // Removing a phone that is not the bound one leaves the bound one alone.
      return ok({ Contact: `<${current.contactUri}>;expires=${this.remaining(current.expiresAt)}` });
    }
    if (asked < this.min) {
      return { status: 423, reason: 'Interval Too Brief', headers: { 'Min-Expires': String(this.min) } };
    }
    const granted = Math.min(asked, this.max);
    this.roster.register(account.agentId, contact.uri, granted * 1000);
    if (current?.contactUri !== contact.uri) {
      this.logger?.info({ agentId: account.agentId, contact: contact.uri, expires: granted, source: request.source }, 'agent phone registered');
    }
    this.emit({ type: 'registered', agentId: account.agentId, contactUri: contact.uri, expiresSeconds: granted, source: request.source });
    return ok({ Contact: `<${contact.uri}>;expires=${granted}`, Expires: String(granted) });
  }

  private remove(agentId: string, request: IncomingRegister): RegisterAnswer {
    this.roster.unregister(agentId, 'unregistered by the phone');
    this.logger?.info({ agentId, source: request.source }, 'agent phone unregistered');
    this.emit({ type: 'unregistered', agentId, source: request.source });
    return ok();
  }

  private challenge(stale: boolean): RegisterAnswer {
    return { status: 401, reason: 'Unauthorized', headers: { 'WWW-Authenticate': this.digest.challenge(stale) } };
  }

  private refuse(username: string, request: IncomingRegister, reason: string): RegisterAnswer {
    this.logger?.warn({ username, source: request.source, reason }, 'agent REGISTER refused');
    this.emit({ type: 'refused', username, reason, source: request.source });
    return { status: 403, reason: 'Forbidden' };
  }

  private remaining(expiresAt: Date): number {
    return Math.max(0, Math.ceil((expiresAt.getTime() - Date.now()) / 1000));
  }

  private emit(event: RegistrationEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}
