// The API's way to the telephony process's control endpoint (control-server.ts), which holds the
// agents' roster: presence set through /v1/agents is forwarded here. The telephony process down or
// slow is TelephonyUnavailableError (the API answers 503 with Retry-After); what the endpoint
// answers itself (a 409 for a state change the roster refuses) is passed on as it is.
import type { AgentPresenceInput } from './presence.js';

export class TelephonyUnavailableError extends Error {}

export interface ControlAnswer {
  status: number;
  body: unknown;
}

export class TelephonyControlClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 2_000,
  ) {}

  listAgents(projectId: string): Promise<ControlAnswer> {
    return this.call('GET', `/projects/${encodeURIComponent(projectId)}/agents`);
  }

  setPresence(projectId: string, agentId: string, presence: AgentPresenceInput): Promise<ControlAnswer> {
    return this.call('PUT', `/projects/${encodeURIComponent(projectId)}/agents/${encodeURIComponent(agentId)}`, presence);
  }

  private async call(method: string, path: string, json?: unknown): Promise<ControlAnswer> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(json === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) }),
      });
    } catch (error) {
      throw new TelephonyUnavailableError(`the telephony process does not answer at ${this.baseUrl}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const text = await response.text();
    if (response.status >= 500) throw new TelephonyUnavailableError(`the telephony process answered ${response.status}`);
    let body: unknown;
    try {
      body = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      throw new TelephonyUnavailableError(`the telephony process answered ${response.status} with a body that is not JSON`);
    }
    return { status: response.status, body };
  }
}
