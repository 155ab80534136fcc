/**
 * Agents' states and registrations, and the only way to obtain something that can ring an agent.
 *
 * A sequential hunt once rang four empty desks while callers heard endless ringing. Here the ACD
 * cannot ring an absent agent by construction: the SIP target of an agent is only reachable
 * through an `AgentOffer`, and `claimForOffer` creates one only for an agent who is logged in,
 * registered (an unexpired registration) and ready at that instant, moving them to `ringing` in the
 * same synchronous step, so two calls can never claim one agent. When an agent logs out or loses
 * the registration while ringing, the offer's signal aborts the INVITE.
 */
export type AgentStatus = 'logged-out' | 'not-ready' | 'ready' | 'ringing' | 'busy' | 'wrap-up';

export interface AgentRegistration {
  /** Contact of the agent's softphone, from its REGISTER. */
  contactUri: string;
  expiresAt: Date;
}

export interface AgentView {
  id: string;
  status: AgentStatus;
  registered: boolean;
  registration: AgentRegistration | undefined;
  /** Since when the agent has been waiting for a call (ready); drives longest-idle distribution. */
  idleSince: Date | undefined;
  /** Since when the agent has been in `status` (talking since the bridge, wrapping up since the call ended, ...). */
  statusSince: Date;
  /** Why the agent is not ready, in words the agent and supervisor see. */
  notReadyReason: string | undefined;
  /** The call the agent is being offered or is talking to. */
  callId: string | undefined;
}

export type RosterChange = { agentId: string; from: AgentStatus; to: AgentStatus; registered: boolean; reason: string | undefined };

const offerToken = Symbol('agent-offer');

/** A right to ring one agent for one call; only the roster makes these. */
export class AgentOffer {
  private readonly controller = new AbortController();

  /** @internal constructed by AgentRoster.claimForOffer only */
  constructor(
    token: typeof offerToken,
    readonly agentId: string,
    readonly callId: string,
    readonly contactUri: string,
  ) {
    if (token !== offerToken) throw new Error('offers come from AgentRoster.claimForOffer');
  }

  /** Aborted when the agent stops being reachable while the offer rings. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** @internal */
  withdraw(reason: string): void {
    this.controller.abort(new Error(reason));
  }
}

interface AgentRecord extends AgentView {
  offer: AgentOffer | undefined;
  wrapUpTimer: NodeJS.Timeout | undefined;
  /** Fires when the registration lapses without a refresh, so queues and ringing offers hear of it. */
  expiryTimer: NodeJS.Timeout | undefined;
}

export class UnknownAgentError extends Error {}
export class AgentStateError extends Error {}

export class AgentRoster {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly listeners = new Set<(change: RosterChange) => void>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  add(agentId: string): void {
    if (this.agents.has(agentId)) return;
    this.agents.set(agentId, {
      id: agentId, status: 'logged-out', registered: false, registration: undefined, idleSince: undefined, statusSince: this.now(),
      notReadyReason: undefined, callId: undefined, offer: undefined, wrapUpTimer: undefined, expiryTimer: undefined,
    });
  }

  view(agentId: string): AgentView {
    const { offer: _offer, wrapUpTimer: _timer, expiryTimer: _expiry, ...view } = this.record(agentId);
    return { ...view, registered: this.isRegistered(this.record(agentId)) };
  }

  list(): AgentView[] {
    return [...this.agents.keys()].map((id) => this.view(id));
  }

  onChange(listener: (change: RosterChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Logging in starts not-ready: an agent says "ready" when actually at the desk. */
  login(agentId: string): void {
    const agent = this.record(agentId);
    if (agent.status !== 'logged-out') return;
    this.transition(agent, 'not-ready', 'logged in');
  }

  logout(agentId: string): void {
    const agent = this.record(agentId);
    if (agent.status === 'busy') throw new AgentStateError(`agent ${agentId} is on a call; log out after it ends`);
    agent.offer?.withdraw('agent logged out');
    this.clearCall(agent);
    this.transition(agent, 'logged-out', 'logged out');
  }

  setReady(agentId: string): void {
    const agent = this.record(agentId);
    if (agent.status === 'ready') return;
    if (agent.status !== 'not-ready' && agent.status !== 'wrap-up') {
      throw new AgentStateError(`agent ${agentId} cannot become ready while ${agent.status}`);
    }
    clearTimeout(agent.wrapUpTimer);
    agent.wrapUpTimer = undefined;
    agent.idleSince = this.now();
    this.transition(agent, 'ready', undefined);
  }

  setNotReady(agentId: string, reason: string): void {
    const agent = this.record(agentId);
    if (agent.status === 'logged-out' || agent.status === 'busy') {
      throw new AgentStateError(`agent ${agentId} cannot become not-ready while ${agent.status}`);
    }
    agent.offer?.withdraw(`agent set not-ready: ${reason}`);
    this.clearCall(agent);
    this.transition(agent, 'not-ready', reason);
  }

  /**
   * The agent's phone registered (or refreshed) `contactUri` for `expiresInMs`. Without a refresh
   * the registration lapses: the roster then reports the agent unregistered by itself.
   */
  register(agentId: string, contactUri: string, expiresInMs: number): void {
    const agent = this.record(agentId);
    const previous = agent.registration;
    const registration = { contactUri, expiresAt: new Date(this.now().getTime() + expiresInMs) };
    agent.registration = registration;
    clearTimeout(agent.expiryTimer);
    agent.expiryTimer = setTimeout(() => {
      agent.expiryTimer = undefined;
      if (agent.registration === registration) this.unregister(agentId, 'registration expired');
    }, Math.max(0, expiresInMs));
    agent.expiryTimer.unref();
    // An offer ringing the old phone is not for the phone the agent now uses.
    if (previous !== undefined && previous.contactUri !== contactUri) agent.offer?.withdraw('agent registered another phone');
    this.emit(agent, agent.status, agent.status, 'registered');
  }

  unregister(agentId: string, reason = 'unregistered'): void {
    const agent = this.record(agentId);
    clearTimeout(agent.expiryTimer);
    agent.expiryTimer = undefined;
    const wasRegistered = agent.registration !== undefined;
    agent.registration = undefined;
    agent.offer?.withdraw(`agent ${reason}`);
    if (wasRegistered) this.emit(agent, agent.status, agent.status, reason);
  }

  /** Logged in, registered and ready right now. */
  isOfferable(agentId: string): boolean {
    const agent = this.agents.get(agentId);
    return agent !== undefined && agent.status === 'ready' && this.isRegistered(agent);
  }

  /** Logged in and registered: someone who may become ready (a preferred agent worth waiting for). */
  isPresent(agentId: string): boolean {
    const agent = this.agents.get(agentId);
    return agent !== undefined && agent.status !== 'logged-out' && this.isRegistered(agent);
  }

  /**
   * The one door to an agent's phone: an offer for an offerable agent, who is `ringing` from here
   * on; undefined for anyone else.
   */
  claimForOffer(agentId: string, callId: string): AgentOffer | undefined {
    const agent = this.agents.get(agentId);
    if (agent === undefined || agent.status !== 'ready' || !this.isRegistered(agent) || agent.registration === undefined) return undefined;
    const offer = new AgentOffer(offerToken, agentId, callId, agent.registration.contactUri);
    agent.offer = offer;
    agent.callId = callId;
    this.transition(agent, 'ringing', undefined);
    return offer;
  }

  offerAnswered(offer: AgentOffer): boolean {
    const agent = this.current(offer);
    if (agent === undefined) return false;
    agent.offer = undefined;
    this.transition(agent, 'busy', undefined);
    return true;
  }

  /** The agent let it ring out, was busy or rejected: not at the desk, so not-ready until they say so. */
  offerNotAnswered(offer: AgentOffer, reason: string): void {
    const agent = this.current(offer);
    if (agent === undefined) return;
    this.clearCall(agent);
    this.transition(agent, 'not-ready', reason);
  }

  /** The caller left or the call went elsewhere: the agent did nothing wrong and keeps their place. */
  offerWithdrawn(offer: AgentOffer): void {
    const agent = this.current(offer);
    if (agent === undefined) return;
    this.clearCall(agent);
    this.transition(agent, 'ready', undefined);
  }

  /** The agent's call ended: wrap-up, then ready at the back of the idle line. */
  callEnded(agentId: string, wrapUpMs: number): void {
    const agent = this.record(agentId);
    if (agent.status !== 'busy') return;
    agent.callId = undefined;
    this.transition(agent, 'wrap-up', undefined);
    agent.wrapUpTimer = setTimeout(() => {
      agent.wrapUpTimer = undefined;
      if (agent.status === 'wrap-up') this.setReady(agentId);
    }, wrapUpMs);
    agent.wrapUpTimer.unref();
  }

  private current(offer: AgentOffer): AgentRecord | undefined {
    const agent = this.agents.get(offer.agentId);
    return agent !== undefined && agent.offer === offer && agent.status === 'ringing' ? agent : undefined;
  }

  private clearCall(agent: AgentRecord): void {
    agent.offer = undefined;
    agent.callId = undefined;
  }

  private isRegistered(agent: AgentRecord): boolean {
    return agent.registration !== undefined && agent.registration.expiresAt.getTime() > this.now().getTime();
  }

  private record(agentId: string): AgentRecord {
    const agent = this.agents.get(agentId);
    if (agent === undefined) throw new UnknownAgentError(`unknown agent "${agentId}"`);
    return agent;
  }

  private transition(agent: AgentRecord, to: AgentStatus, reason: string | undefined): void {
    const from = agent.status;
    agent.status = to;
    if (from !== to) agent.statusSince = this.now();
    agent.notReadyReason = to === 'not-ready' ? reason : undefined;
    if (to !== 'ready') agent.idleSince = to === 'ringing' ? agent.idleSince : undefined;
    this.emit(agent, from, to, reason);
  }

  private emit(agent: AgentRecord, from: AgentStatus, to: AgentStatus, reason: string | undefined): void {
    const change = { agentId: agent.id, from, to, registered: this.isRegistered(agent), reason };
    for (const listener of [...this.listeners]) listener(change);
  }
}
