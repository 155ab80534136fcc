/**
 * What every e2e suite needs: the drachtio-srf adapter on the stand-in (or a real drachtio-server
 * with `npm run test:telephony -- --drachtio host:port`), SIPp peers that are stopped after the
 * suite, and a CallCenter over that adapter. No test double of CallControl anywhere here.
 */
import { AgentRoster } from '../acd/roster.js';
import type { AgentNotice } from '../acd/pbx-transfer.js';
import { queueConfigSchema, type QueueConfigInput } from '../acd/queue-config.js';
import { CallCenter, type CallCenterOptions } from '../call-center.js';
import type { RunningCallControl } from '../sip/start.js';
import { HOLD_SDP, startTestCallControl } from '../testing/hub.js';
import { startSipp, type SippOptions, type SippPeer } from '../testing/sipp.js';
import { trunkConfigSchema, type TrunkConfigInput } from '../trunks/config.js';

export class E2eRig {
  readonly peers: SippPeer[] = [];
  readonly notices: { agentId: string; notice: AgentNotice }[] = [];
  readonly roster = new AgentRoster();
  private centers: CallCenter[] = [];

  private constructor(readonly hub: RunningCallControl) {}

  static async start(): Promise<E2eRig> {
    return new E2eRig(await startTestCallControl());
  }

  /** `host:port` where SIPp callers send their INVITEs. */
  get hubTarget(): string {
    const { address, port } = this.hub.callControl.sipAddress;
    return `${address}:${port}`;
  }

  async peer(options: SippOptions): Promise<SippPeer> {
    const peer = await startSipp(options);
    this.peers.push(peer);
    return peer;
  }

  /** An agent logged in, with their SIPp phone registered, and ready (idle from now on). */
  agentAt(agentId: string, phone: SippPeer, state: { registered?: boolean; ready?: boolean } = {}): void {
    this.roster.add(agentId);
    this.roster.login(agentId);
    if (state.registered ?? true) this.roster.register(agentId, phone.uri, 3_600_000);
    if (state.ready ?? true) this.roster.setReady(agentId);
  }

  callCenter(
    options: Omit<CallCenterOptions, 'callControl' | 'roster' | 'trunks' | 'queues' | 'holdSdp' | 'notifyAgent'> & {
      trunks?: TrunkConfigInput[];
      queues: QueueConfigInput[];
    },
  ): CallCenter {
    const center = new CallCenter({
      ...options,
      callControl: this.hub.callControl,
      roster: this.roster,
      trunks: (options.trunks ?? []).map((trunk) => trunkConfigSchema.parse(trunk)),
      queues: options.queues.map((queue) => queueConfigSchema.parse(queue)),
      holdSdp: HOLD_SDP,
      notifyAgent: (agentId, notice) => this.notices.push({ agentId, notice }),
    });
    this.centers.push(center);
    return center;
  }

  /**
   * Hangs up what is left while the SIPp peers can still answer the BYEs (a test that failed
   * half-way leaves calls up; a BYE to a dead peer would wait out Timer F), then stops the peers.
   */
  async stop(): Promise<void> {
    for (const center of this.centers) center.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.hub.stop(), new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
    for (const peer of this.peers) peer.stop();
  }
}

/** Resolves when `condition` holds, polling; fails after `timeoutMs` with `what`. */
export async function eventually(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
