/**
 * Call control serving every project: one CallCenter per project built from its stored trunks,
 * queues and IVR menus, rebuilt when that configuration changes, and one inbound router that picks
 * the project (and its IVR menu or queue) by the dialled number.
 *
 * A rebuilt project keeps its agent roster (agents' states outlive configuration edits); the old
 * call center stops probing trunks at once and closes its queues once their callers are served,
 * so an edit never drops a waiting caller.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import { AgentRoster } from '../acd/roster.js';
import type { CallControl, InboundCall } from '../call-control.js';
import { CallCenter, type CallCenterMedia, type CallCenterOptions } from '../call-center.js';
import { numberKey, type InboundRoute } from '../inbound/numbers.js';
import type { IvrDeps } from '../ivr/run-ivr.js';
import { AgentRegistrar, type AgentRegistrarOptions, type AgentSipAccounts } from '../registration/agent-registrar.js';
import type { IncomingRegister, RegisterAnswer, Registrations } from '../registration/port.js';
import type { TrunkHealth } from '../trunks/health.js';
import { InboundCallLog, type InboundCallLogDeps } from './inbound-call-log.js';
import type { CallbackScheduled } from '../ivr/run-ivr.js';
import type { ProjectTelephonyConfig } from './project-config.js';
import { normalizePhone } from '../../core/phone.js';

/**
 * The SDP a queued caller is answered with, and outbound legs are offered, while the hub anchors no
 * media for them: audio inactive; an agent's media reaches the caller by re-INVITE on bridge.
 */
export const HOLD_SDP = ['v=0', 'o=hub 1 1 IN IP4 0.0.0.0', 's=hub', 'c=IN IP4 0.0.0.0', 't=0 0', 'm=audio 9 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=inactive', ''].join('\r\n');

export interface TelephonyRuntimeDeps extends InboundCallLogDeps {
  callControl: CallControl;
  /** rtpengine media with prompts; without it IVR numbers are refused (503) and queue numbers still work. */
  media: { control: CallCenterMedia; promptPath: (prompt: string) => string; description: string } | undefined;
  /** Why there is no media, for the refusal and the health answer. */
  mediaUnavailable?: string;
  /** CRM lookups per project (runtime/contact-lookup.ts): the IVR's `crm` nodes and the queued caller's preferred agent. */
  contacts: {
    forIvr: (projectId: string, defaultRegion: string) => IvrDeps['lookupContact'];
    /** Must never reject and must settle within its own deadline. */
    responsibleAgent: (projectId: string, phone: string, defaultRegion: string) => Promise<string | undefined>;
  };
  holdSdp: string;
  loadConfigs: () => Promise<Map<string, ProjectTelephonyConfig>>;
  logger: Pick<Logger, 'warn' | 'error' | 'info'>;
  /**
   * SIP registration: agents' phones REGISTER to the hub (digest against their project's SIP
   * accounts, the Contact bound in that project's roster) and registration trunks REGISTER with
   * their carriers. A REGISTER goes to the project whose account has its user name.
   */
  registration?: {
    registrations: Registrations;
    accountsFor: (projectId: string) => AgentSipAccounts;
    projectsWithUsername: (username: string) => Promise<string[]>;
    options: AgentRegistrarOptions;
  };
  /**
   * Schedules a callback an IVR caller asked for (telephony/callbacks/callback-store.ts): shown the
   * number they dialled, owned by `agent` when known. Without it the IVR's callback nodes queue the caller.
   */
  scheduleCallback?: (projectId: string, request: { phone: string; callerId: string; queue: string; at: Date; agent: string | undefined }) => Promise<CallbackScheduled>;
  /** Records every roster change of every project (telephony/acd/status-log.ts), for the agents' statistics. */
  statusLog?: { attach(projectId: string, roster: AgentRoster): () => void };
  /** Publishes a project's trunk health for the API (TrunkStatusStore); returns the stop. */
  publishTrunkStatus?: (projectId: string, health: TrunkHealth) => () => void;
  /** How long close() waits for call events still being stored. */
  closeWaitMs?: number;
  /** How often a replaced call center looks whether its last caller is gone. */
  drainCheckMs?: number;
}

interface RunningProject {
  config: ProjectTelephonyConfig;
  center: CallCenter;
  stopPublishing: () => void;
}

export class TelephonyRuntime {
  private readonly projects = new Map<string, RunningProject>();
  private readonly rosters = new Map<string, AgentRoster>();
  private numbers = new Map<string, { projectId: string; route: InboundRoute }>();
  private readonly draining = new Set<{ center: CallCenter; timer: NodeJS.Timeout }>();
  private readonly registrars = new Map<string, AgentRegistrar>();
  private reloading: Promise<void> = Promise.resolve();
  private readonly calls = new Set<InboundCallLog>();

  constructor(private readonly deps: TelephonyRuntimeDeps) {
    deps.callControl.onInboundCall((call) => this.onInbound(call));
    deps.registration?.registrations.onRegister((request) => this.onRegister(request));
  }

  /** Reads every project's configuration and rebuilds the call centers whose configuration changed. Serialized. */
  reload(): Promise<void> {
    this.reloading = this.reloading.catch(() => undefined).then(() => this.reloadNow());
    return this.reloading;
  }

  /** The project's call center (for activities); throws when the project has no telephony configuration. */
  centerFor(projectId: string): CallCenter {
    const project = this.projects.get(projectId);
    if (project === undefined) throw new Error(`project ${projectId} has no telephony configuration`);
    return project.center;
  }

  /** The project's agents; kept across configuration changes. Registrations and presence are fed here. */
  rosterFor(projectId: string): AgentRoster {
    let roster = this.rosters.get(projectId);
    if (roster === undefined) {
      roster = new AgentRoster();
      this.rosters.set(projectId, roster);
      this.deps.statusLog?.attach(projectId, roster);
    }
    return roster;
  }

  hasProject(projectId: string): boolean {
    return this.projects.has(projectId);
  }

  describe(): { projects: number; trunks: number; queues: number; numbers: string[]; media: string; callsInProgress: number } {
    const running = [...this.projects.values()];
    return {
      projects: this.projects.size,
      trunks: running.reduce((sum, project) => sum + project.config.trunks.length, 0),
      queues: running.reduce((sum, project) => sum + project.config.queues.length, 0),
      numbers: [...this.numbers.keys()].sort(),
      media: this.deps.media ? this.deps.media.description : `unavailable: ${this.deps.mediaUnavailable ?? 'not configured'}`,
      callsInProgress: this.calls.size,
    };
  }

  /** Stops probing and closes every queue (callers still waiting are told by their queue). */
  async close(): Promise<void> {
    await this.reloading.catch(() => undefined);
    const closing: Promise<void>[] = [];
    for (const { center, stopPublishing } of this.projects.values()) {
      stopPublishing();
      closing.push(center.closeAndUnregister());
    }
    for (const entry of this.draining) {
      clearInterval(entry.timer);
      closing.push(entry.center.closeAndUnregister());
    }
    await Promise.allSettled(closing);
    this.projects.clear();
    this.draining.clear();
    // Events of calls that just ended are being stored; wait for them, but not for ever (a database
    // that is itself stopping would hold the process until it is killed).
    let timer: NodeJS.Timeout | undefined;
    const pending = [...this.calls].map((call) => call.settled());
    await Promise.race([Promise.all(pending), new Promise((resolve) => (timer = setTimeout(resolve, this.deps.closeWaitMs ?? 3_000)))]);
    clearTimeout(timer);
    if (this.calls.size > 0) {
      this.deps.logger.warn({ callIds: [...this.calls].map((call) => call.callId) }, 'telephony: stopping with call events of these calls possibly not stored (database unreachable)');
    }
  }

  private async reloadNow(): Promise<void> {
    const configs = await this.deps.loadConfigs();
    for (const [projectId, running] of this.projects) {
      if (!configs.has(projectId)) {
        await this.retire(running);
        this.projects.delete(projectId);
        this.deps.logger.info({ projectId }, 'telephony: project has no telephony configuration any more');
      }
    }
    for (const config of configs.values()) {
      const running = this.projects.get(config.projectId);
      if (running?.config.fingerprint === config.fingerprint) continue;
      // The old center unregisters its trunks before the new one registers them.
      if (running) await this.retire(running);
      const center = this.build(config);
      const stopPublishing = this.deps.publishTrunkStatus?.(config.projectId, center.health) ?? (() => undefined);
      this.projects.set(config.projectId, { config, center, stopPublishing });
      this.deps.logger.info(
        { projectId: config.projectId, trunks: config.trunks.length, queues: config.queues.length, menus: config.menus.length, numbers: config.numbers.map((entry) => entry.number) },
        running ? 'telephony: project configuration reloaded' : 'telephony: project configuration loaded',
      );
    }
    const numbers = new Map<string, { projectId: string; route: InboundRoute }>();
    for (const config of configs.values()) {
      for (const entry of config.numbers) numbers.set(entry.number, { projectId: config.projectId, route: entry.route });
    }
    this.numbers = numbers;
  }

  private build(config: ProjectTelephonyConfig): CallCenter {
    const media = this.deps.media;
    const options: CallCenterOptions = {
      callControl: this.deps.callControl,
      roster: this.rosterFor(config.projectId),
      trunks: config.trunks,
      queues: config.queues,
      holdSdp: this.deps.holdSdp,
      notifyAgent: (agentId, notice) => this.deps.logger.warn({ projectId: config.projectId, agentId, notice }, 'telephony: notice for an agent (no agent desktop to show it yet)'),
      logger: this.deps.logger,
      ...(media ? { media: media.control, ivr: { promptPath: media.promptPath, lookupContact: this.deps.contacts.forIvr(config.projectId, config.defaultRegion) } } : {}),
      ...(this.deps.registration ? { registrations: this.deps.registration.registrations } : {}),
    };
    const center = new CallCenter(options);
    center.probes.start(1_000);
    return center;
  }

  /**
   * A replaced call center: no more probes or status, its registration trunks unregistered at once
   * (the new one registers the same bindings); its queues close once nobody waits in them.
   */
  private async retire(running: RunningProject): Promise<void> {
    const center = running.center;
    running.stopPublishing();
    center.probes.stop();
    await center.unregisterTrunks();
    const entry = {
      center,
      timer: setInterval(() => {
        if ([...center.queues.values()].some((queue) => queue.size > 0)) return;
        clearInterval(entry.timer);
        this.draining.delete(entry);
        void center.closeAndUnregister();
      }, this.deps.drainCheckMs ?? 1_000),
    };
    entry.timer.unref();
    this.draining.add(entry);
  }

  /** A phone's REGISTER, to the registrar of the one project whose SIP account has that user name. */
  private async onRegister(request: IncomingRegister): Promise<RegisterAnswer> {
    const registration = this.deps.registration!;
    const projects = await registration.projectsWithUsername(request.aorUser);
    if (projects.length > 1) {
      this.deps.logger.warn({ username: request.aorUser, projects }, 'telephony: a SIP user name exists in several projects; its REGISTER is refused');
      return { status: 403, reason: 'Forbidden', headers: { 'X-Reason': 'user name is not unique across projects' } };
    }
    // Nobody's user name still gets the challenge-then-403 of a registrar with no accounts (no user enumeration).
    const projectId = projects[0] ?? '';
    let registrar = this.registrars.get(projectId);
    if (registrar === undefined) {
      const accounts = projectId === '' ? { byUsername: async () => undefined } : registration.accountsFor(projectId);
      registrar = new AgentRegistrar(projectId === '' ? new AgentRoster() : this.rosterFor(projectId), accounts, registration.options, this.deps.logger);
      this.registrars.set(projectId, registrar);
    }
    return registrar.handle(request);
  }

  private async onInbound(call: InboundCall): Promise<void> {
    const dialled = numberKey(call.to);
    const entry = this.numbers.get(dialled);
    const project = entry ? this.projects.get(entry.projectId) : undefined;
    if (entry === undefined || project === undefined) {
      await call.reject(404, `no project answers ${dialled || call.to}`);
      return;
    }
    let inbound: { ivr: NonNullable<ReturnType<typeof findMenu>> } | { queue: string };
    if (entry.route.ivr !== undefined) {
      if (this.deps.media === undefined) {
        await call.reject(503, `IVR unavailable: ${this.deps.mediaUnavailable ?? 'no media server'}`);
        return;
      }
      const menu = findMenu(project.config, entry.route.ivr);
      if (menu === undefined) {
        await call.reject(480, `IVR menu "${entry.route.ivr}" is not running`);
        return;
      }
      inbound = { ivr: menu };
    } else {
      inbound = { queue: entry.route.queue as string };
    }
    const log = new InboundCallLog(this.deps, entry.projectId, `in-${randomUUID()}`, dialled, call, project.config.defaultRegion);
    this.calls.add(log);
    call.on((event) => {
      if (event.type === 'ended') void log.settled().then(() => this.calls.delete(log));
    });
    const region = project.config.defaultRegion;
    const schedule = this.deps.scheduleCallback;
    log.routed(await project.center.routeInbound(call, inbound, log.callId, {
      preferredAgent: () => this.deps.contacts.responsibleAgent(entry.projectId, call.from, region),
      ...(schedule === undefined
        ? {}
        : {
            // The caller is called back from the number they dialled, by their responsible agent first.
            scheduleCallback: async ({ queue, delayMinutes }) =>
              schedule(entry.projectId, {
                phone: call.from,
                callerId: dialledAsCallerId(dialled, region),
                queue,
                at: new Date(Date.now() + delayMinutes * 60_000),
                agent: await this.deps.contacts.responsibleAgent(entry.projectId, call.from, region),
              }),
          }),
    }));
  }
}

/** The dialled number as a caller ID: carriers send it international without "+" or national. */
function dialledAsCallerId(dialled: string, region: string): string {
  const international = normalizePhone(`+${dialled}`, region);
  if (international.ok) return international.e164;
  const national = normalizePhone(dialled, region);
  return national.ok ? national.e164 : dialled;
}

function findMenu(config: ProjectTelephonyConfig, name: string) {
  return config.menus.find((menu) => menu.name === name);
}
