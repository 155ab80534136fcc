// The telephony runtime's routing and reload rules, driven through FakeCallControl (the test double
// of the call-control port, telephony/fakes). The same runtime over real SIP, rtpengine, PostgreSQL
// and Temporal is test/telephony-process.e2e.test.ts.
import { describe, expect, it } from 'vitest';
import type { CallEventSignal } from '../../workflows/journey/shared.js';
import { queueConfigSchema } from '../acd/queue-config.js';
import type { CallDetailRecord } from '../cdr/cdr.js';
import { FakeCallControl } from '../fakes/call-control.js';
import type { ProjectTelephonyConfig } from './project-config.js';
import { HOLD_SDP, TelephonyRuntime, type TelephonyRuntimeDeps } from './runtime.js';

const projectId = '00000000-0000-4000-8000-000000000001';

function projectConfig(overrides: Partial<ProjectTelephonyConfig> = {}): ProjectTelephonyConfig {
  return {
    projectId, defaultRegion: 'DE', trunks: [], menus: [],
    queues: [queueConfigSchema.parse({ name: 'sales', agents: ['ann'] })],
    numbers: [{ number: '4930123456', route: { queue: 'sales' } }, { number: '4930123499', route: { ivr: 'main' } }],
    fingerprint: 'v1',
    ...overrides,
  };
}

function rig(configs: () => ProjectTelephonyConfig[], responsibleAgent: TelephonyRuntimeDeps['contacts']['responsibleAgent'] = async () => undefined) {
  const sip = new FakeCallControl();
  const events: { phone: string; event: CallEventSignal }[] = [];
  const cdrs: CallDetailRecord[] = [];
  const runtime = new TelephonyRuntime({
    callControl: sip, media: undefined, mediaUnavailable: 'rtpengine is not installed', holdSdp: HOLD_SDP,
    contacts: { forIvr: () => async () => undefined, responsibleAgent },
    loadConfigs: async () => new Map(configs().map((config) => [config.projectId, config])),
    sendEvent: async (_project, phone, event) => void events.push({ phone, event }),
    saveCdrs: async (_project, records) => void cdrs.push(...records),
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    drainCheckMs: 10,
  });
  return { sip, runtime, events, cdrs };
}

describe('TelephonyRuntime', () => {
  it('refuses a number nobody routes with 404, and an IVR number without media with 503 saying why', async () => {
    const { sip, runtime } = rig(() => [projectConfig()]);
    await runtime.reload();
    const unknown = await sip.receiveCall('+4930999', '4930000000');
    expect(unknown.rejected).toEqual({ sipStatus: 404, reason: 'no project answers 4930000000' });
    const ivr = await sip.receiveCall('+4930999', 'sip:+49-30-123499@hub.example');
    expect(ivr.rejected).toEqual({ sipStatus: 503, reason: 'IVR unavailable: rtpengine is not installed' });
    expect(runtime.describe()).toMatchObject({ projects: 1, numbers: ['4930123456', '4930123499'], media: 'unavailable: rtpengine is not installed' });
    await runtime.close();
  });

  it('queues a caller of a queue number and tells the journey of the normalized caller; the CDR follows the hang-up', async () => {
    const { sip, runtime, events, cdrs } = rig(() => [projectConfig()]);
    await runtime.reload();
    const call = await sip.receiveCall('030 12345678', '4930123456');
    expect(call.state).toBe('answered');
    call.remoteHangup('normal');
    await expect.poll(() => cdrs.length).toBe(1);
    await expect.poll(() => events.map((sent) => sent.event.type)).toEqual(['ringing', 'answered', 'queued', 'ended', 'cdr']);
    expect(new Set(events.map((sent) => sent.phone))).toEqual(new Set(['+493012345678']));
    expect(events[0]?.event).toMatchObject({ direction: 'inbound', dialled: '4930123456' });
    expect(events[2]?.event).toMatchObject({ queue: 'sales' });
    expect(cdrs[0]).toMatchObject({ direction: 'inbound', from: '+493012345678', to: '4930123456', outcome: 'answered', hangupCause: 'normal', costMicros: 0 });
    await runtime.close();
  });

  it('queues a caller with the responsible agent the CRM lookup names, and the journey hears of the preference', async () => {
    const asked: string[][] = [];
    const { sip, runtime, events } = rig(() => [projectConfig()], async (project, phone, region) => {
      asked.push([project, phone, region]);
      return 'bob';
    });
    await runtime.reload();
    const call = await sip.receiveCall('030 12345678', '4930123456');
    expect(asked).toEqual([[projectId, '030 12345678', 'DE']]);
    await expect.poll(() => events.find((sent) => sent.event.type === 'queued')?.event).toMatchObject({ queue: 'sales', preferredAgentId: 'bob' });
    call.remoteHangup('normal');
    await runtime.close();
  });

  it('a caller without a phone number gets a CDR but tells no journey', async () => {
    const { sip, runtime, events, cdrs } = rig(() => [projectConfig()]);
    await runtime.reload();
    const call = await sip.receiveCall('anonymous', '4930123456');
    call.remoteHangup('normal');
    await expect.poll(() => cdrs.length).toBe(1);
    expect(cdrs[0]).toMatchObject({ from: 'anonymous', outcome: 'answered' });
    expect(events).toEqual([]);
    await runtime.close();
  });

  it('a configuration change rebuilds the project: new callers reach the new queues, a caller waiting in the old one keeps waiting', async () => {
    let current = projectConfig();
    const { sip, runtime } = rig(() => [current]);
    await runtime.reload();
    const before = runtime.centerFor(projectId);
    const waiting = await sip.receiveCall('+493012345678', '4930123456');
    expect(before.queue('sales').size).toBe(1);

    current = projectConfig({ queues: [queueConfigSchema.parse({ name: 'sales', agents: ['ann', 'bob'] })], fingerprint: 'v2' });
    await runtime.reload();
    const after = runtime.centerFor(projectId);
    expect(after).not.toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Still queued in the replaced center (not closed under the caller).
    expect(waiting.state).toBe('answered');
    expect(before.queue('sales').size).toBe(1);
    await sip.receiveCall('+493012345679', '4930123456');
    expect(after.queue('sales').size).toBe(1);

    // The same configuration again changes nothing; a project without configuration is dropped.
    await runtime.reload();
    expect(runtime.centerFor(projectId)).toBe(after);
    current = { ...current, projectId: '00000000-0000-4000-8000-000000000002' };
    await runtime.reload();
    expect(runtime.hasProject(projectId)).toBe(false);
    expect(() => runtime.centerFor(projectId)).toThrow(/no telephony configuration/);
    waiting.remoteHangup('normal');
    await runtime.close();
  });
});
