// Call control against real SIP: SIPp carriers, agents and callers on their own loopback addresses,
// the drachtio-srf adapter, and the drachtio-server stand-in (or a real drachtio-server with
// `npm run test:telephony -- --drachtio host:port`).
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent, CallLeg, InboundCall } from '../call-control.js';
import { HOLD_SDP, startTestCallControl } from '../testing/hub.js';
import { countOf, freeUdpPort, nextLoopbackAddress, startSipp, type SippPeer } from '../testing/sipp.js';
import type { RunningCallControl } from './start.js';

let hub: RunningCallControl;
const peers: SippPeer[] = [];

async function peer(options: Parameters<typeof startSipp>[0]): Promise<SippPeer> {
  const started = await startSipp(options);
  peers.push(started);
  return started;
}

function hubTarget(): string {
  return `${hub.callControl.sipAddress.address}:${hub.callControl.sipAddress.port}`;
}

beforeAll(async () => {
  hub = await startTestCallControl();
});

afterAll(async () => {
  for (const started of peers) started.stop();
  await hub?.stop();
});

describe('outbound calls', () => {
  it('an answering carrier: ringing, answered, then our BYE ends the call at the carrier', async () => {
    const carrier = await peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 });
    const events: CallEvent['type'][] = [];
    const result = await hub.callControl.originate({ uri: carrier.uri, callerId: '+14155550100', sdp: HOLD_SDP, ringTimeoutMs: 5_000 });
    expect(result.outcome).toBe('answered');
    if (result.outcome !== 'answered') return;
    result.leg.on((event) => events.push(event.type));
    expect(result.leg.state).toBe('answered');
    expect(result.leg.remoteSdp).toContain('m=audio');
    expect(result.leg.sipCallId).not.toBe('');
    await result.leg.hangup();
    const sipp = await carrier.finished();
    expect(sipp.successful).toBe(1);
    expect(sipp.failed).toBe(0);
    expect(countOf(sipp, 'BYE')).toBe(1);
    expect(events).toEqual(['ended']);
  });

  it('a carrier asking for digest credentials: the INVITE is repeated with them and answered', async () => {
    const carrier = await peer({ scenario: 'carrier-digest', address: nextLoopbackAddress(), service: '15550001', calls: 1, timeoutSeconds: 15 });
    const result = await hub.callControl.originate({
      uri: carrier.uri, callerId: '100', sdp: HOLD_SDP, ringTimeoutMs: 5_000, auth: { username: 'trunk-user', password: 'trunk-pass' },
    });
    expect(result.outcome).toBe('answered');
    if (result.outcome === 'answered') await result.leg.hangup();
    const sipp = await carrier.finished();
    expect(countOf(sipp, '401')).toBe(1);
    expect(countOf(sipp, '403')).toBe(0);
    expect(countOf(sipp, 'BYE')).toBe(1);
  });

  it('wrong digest credentials: the carrier refuses, outcome rejected 403', async () => {
    const carrier = await peer({ scenario: 'carrier-digest', address: nextLoopbackAddress(), service: '15550002', calls: 1, timeoutSeconds: 15 });
    const result = await hub.callControl.originate({
      uri: carrier.uri, callerId: '100', sdp: HOLD_SDP, ringTimeoutMs: 5_000, auth: { username: 'trunk-user', password: 'wrong' },
    });
    expect(result).toMatchObject({ outcome: 'rejected', sipStatus: 403 });
    expect(countOf(await carrier.finished(), '403')).toBe(1);
  });

  it('a busy carrier: outcome busy with 486', async () => {
    const carrier = await peer({ scenario: 'carrier-busy', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 });
    const result = await hub.callControl.originate({ uri: carrier.uri, callerId: '100', sdp: HOLD_SDP, ringTimeoutMs: 5_000 });
    expect(result).toMatchObject({ outcome: 'busy', sipStatus: 486 });
    const sipp = await carrier.finished();
    expect(sipp.successful).toBe(1);
    expect(countOf(sipp, 'ACK')).toBe(1);
  });

  it('a carrier that rings forever: CANCEL at the ring timeout, outcome no-answer', async () => {
    const carrier = await peer({ scenario: 'carrier-no-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 });
    const started = Date.now();
    const result = await hub.callControl.originate({ uri: carrier.uri, callerId: '100', sdp: HOLD_SDP, ringTimeoutMs: 600 });
    expect(result).toMatchObject({ outcome: 'no-answer', sipStatus: 487 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(Date.now() - started).toBeLessThan(3_000);
    const sipp = await carrier.finished();
    expect(countOf(sipp, 'CANCEL')).toBe(1);
    expect(countOf(sipp, 'ACK')).toBe(1);
    expect(sipp.successful).toBe(1);
  });

  it('the caller gives up (abort signal) while the carrier rings: CANCEL, outcome cancelled', async () => {
    const carrier = await peer({ scenario: 'carrier-no-answer', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 });
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    const result = await hub.callControl.originate({ uri: carrier.uri, callerId: '100', sdp: HOLD_SDP, ringTimeoutMs: 10_000, signal: abort.signal });
    expect(result).toMatchObject({ outcome: 'cancelled', sipStatus: 487 });
    expect(result.setupMs).toBeLessThan(2_000);
    const sipp = await carrier.finished();
    expect(countOf(sipp, 'CANCEL')).toBe(1);
    expect(sipp.successful).toBe(1);
  });

  it('a carrier answering 503: outcome failed with the status', async () => {
    const carrier = await peer({ scenario: 'carrier-unavailable', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 });
    const result = await hub.callControl.originate({ uri: carrier.uri, callerId: '100', sdp: HOLD_SDP, ringTimeoutMs: 5_000 });
    expect(result).toMatchObject({ outcome: 'failed', sipStatus: 503 });
    expect((await carrier.finished()).successful).toBe(1);
  });

  it('nobody at the address: failed (no response) at the ring timeout, without waiting for Timer B', async () => {
    const address = nextLoopbackAddress();
    const result = await hub.callControl.originate({ uri: `sip:nobody@${address}:${await freeUdpPort(address)}`, callerId: '100', sdp: HOLD_SDP, ringTimeoutMs: 800 });
    expect(result).toMatchObject({ outcome: 'failed', sipStatus: undefined });
    expect(result.setupMs).toBeGreaterThanOrEqual(790);
    expect(result.setupMs).toBeLessThan(2_000);
  });
});

describe('inbound calls', () => {
  it('a caller is answered, talks, hangs up: the leg ends with a remote BYE', async () => {
    const calls: InboundCall[] = [];
    const ended = new Promise<CallEvent>((resolve) => {
      hub.callControl.onInboundCall(async (call) => {
        calls.push(call);
        call.on((event) => event.type === 'ended' && resolve(event));
        await call.answer(HOLD_SDP);
      });
    });
    const caller = await peer({ scenario: 'caller', address: nextLoopbackAddress(), target: hubTarget(), service: '4000', calls: 1, timeoutSeconds: 15, pauseMs: 300 });
    const sipp = await caller.finished();
    expect(sipp.successful).toBe(1);
    expect(await ended).toMatchObject({ type: 'ended', cause: 'normal', by: 'remote' });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.to).toBe('4000');
    expect(calls[0]!.remoteSdp).toContain('m=audio');
  });
});

describe('inbound call events', () => {
  it('a caller hanging up while it rings: 487 to the caller, the leg ends abandoned', async () => {
    const ended = new Promise<CallEvent>((resolve) => {
      hub.callControl.onInboundCall(async (call) => {
        call.on((event) => event.type === 'ended' && resolve(event));
        await call.ring();
      });
    });
    const caller = await peer({ scenario: 'caller-abandons', address: nextLoopbackAddress(), target: hubTarget(), service: '4020', calls: 1, timeoutSeconds: 15, pauseMs: 200 });
    expect(await ended).toMatchObject({ cause: 'abandoned', by: 'remote', sipStatus: 487 });
    const sipp = await caller.finished();
    expect(sipp.successful).toBe(1);
    expect(countOf(sipp, '487')).toBe(1);
    expect(hub.callControl.activeCalls).toBe(0);
  });

  it('a caller hanging up while the agent rings: the agent leg, part of the same call, is cancelled', async () => {
    const agent = await peer({ scenario: 'carrier-no-answer', address: nextLoopbackAddress(), service: 'agent', calls: 1, timeoutSeconds: 15 });
    const dialled = new Promise<unknown>((resolve) => {
      hub.callControl.onInboundCall(async (call) => {
        resolve(await hub.callControl.originate({ uri: agent.uri, callerId: call.from, sdp: call.remoteSdp ?? HOLD_SDP, ringTimeoutMs: 10_000, partOf: call, onProgress: () => void call.ring() }));
      });
    });
    const caller = await peer({ scenario: 'caller-abandons', address: nextLoopbackAddress(), target: hubTarget(), service: '4025', calls: 1, timeoutSeconds: 15, pauseMs: 300 });
    expect(await dialled).toMatchObject({ outcome: 'cancelled', sipStatus: 487 });
    const [callerRun, agentRun] = await Promise.all([caller.finished(), agent.finished()]);
    expect(callerRun.successful).toBe(1);
    expect(countOf(agentRun, 'CANCEL')).toBe(1);
    expect(agentRun.successful).toBe(1);
    expect(hub.callControl.activeCalls).toBe(0);
  });

  it('DTMF sent as SIP INFO arrives as digit events', async () => {
    const digits: string[] = [];
    const ended = new Promise<void>((resolve) => {
      hub.callControl.onInboundCall(async (call) => {
        call.on((event) => {
          if (event.type === 'digit') digits.push(`${event.digit}/${event.source}`);
          if (event.type === 'ended') resolve();
        });
        await call.answer(HOLD_SDP);
      });
    });
    const caller = await peer({ scenario: 'caller-dtmf-info', address: nextLoopbackAddress(), target: hubTarget(), service: '4030', calls: 1, timeoutSeconds: 15, pauseMs: 100 });
    expect((await caller.finished()).successful).toBe(1);
    await ended;
    expect(digits).toEqual(['4/sip-info', '#/sip-info']);
  });
});

describe('transfers', () => {
  it('blind transfer: REFER to the caller, who calls the gateway; its NOTIFY 200 completes the transfer and the hub leaves the call', async () => {
    const gateway = await peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: '201', calls: 1, timeoutSeconds: 15 });
    const events: CallEvent[] = [];
    const transferred = new Promise<unknown>((resolve) => {
      hub.callControl.onInboundCall(async (call) => {
        call.on((event) => events.push(event));
        await call.answer(HOLD_SDP);
        resolve(await hub.callControl.transfer(call, { mode: 'blind', to: `sip:201@${gateway.hostport}`, timeoutMs: 5_000 }));
      });
    });
    const { address, port } = hub.callControl.sipAddress;
    const transferee = await peer({
      scenario: 'transferee', address: nextLoopbackAddress(), target: hubTarget(), service: '4010', calls: 1, timeoutSeconds: 15,
      keys: { hub_host: address, hub_port: String(port) },
    });
    expect(await transferred).toEqual({ ok: true, mode: 'blind' });
    const [transfereeRun, gatewayRun] = await Promise.all([transferee.finished(), gateway.finished()]);
    expect(transfereeRun.successful).toBe(1);
    // The gateway really got the transferred call, answered it and saw it hung up.
    expect(gatewayRun.successful).toBe(1);
    expect(countOf(gatewayRun, 'BYE')).toBe(1);
    expect(events.map((event) => event.type)).toEqual(['answered', 'transferred', 'ended']);
    expect(events.at(-1)).toMatchObject({ cause: 'transferred', by: 'local' });
  });
});

describe('bridging', () => {
  it('attended transfer from an agent: the hub calls the target, drops the agent, re-INVITEs the caller with the target media; the caller hanging up ends it', async () => {
    const agent = await peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: 'agent', calls: 1, timeoutSeconds: 15 });
    const gateway = await peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: '202', calls: 1, timeoutSeconds: 15 });
    const events: CallEvent['type'][] = [];
    const transferred = new Promise<unknown>((resolve, reject) => {
      hub.callControl.onInboundCall(async (call) => {
        call.on((event) => events.push(event.type));
        // Caller and agent are joined the way the ACD does it: the caller is answered with the agent's media.
        const agentLeg = await hub.callControl.originate({ uri: agent.uri, callerId: call.from, sdp: call.remoteSdp ?? HOLD_SDP, ringTimeoutMs: 3_000, partOf: call });
        if (agentLeg.outcome !== 'answered') return reject(new Error(`agent ${agentLeg.outcome}`));
        await call.answer(agentLeg.leg.remoteSdp ?? HOLD_SDP);
        await hub.callControl.bridge(call, agentLeg.leg);
        resolve(await hub.callControl.transfer(call, { mode: 'attended', to: `sip:202@${gateway.hostport}`, callerId: '4040', ringTimeoutMs: 3_000 }));
      });
    });
    const caller = await peer({ scenario: 'caller-accepts-reinvite', address: nextLoopbackAddress(), target: hubTarget(), service: '4040', calls: 1, timeoutSeconds: 15, pauseMs: 300 });
    expect(await transferred).toEqual({ ok: true, mode: 'attended' });
    const [callerRun, agentRun, gatewayRun] = await Promise.all([caller.finished(), agent.finished(), gateway.finished()]);
    expect(callerRun.successful).toBe(1);
    // The INVITE line counts our initial INVITE and the hub's re-INVITE carrying the gateway's media.
    expect(countOf(callerRun, 'INVITE')).toBe(2);
    // The agent was released by the transfer, the gateway by the caller's BYE.
    expect(countOf(agentRun, 'BYE')).toBe(1);
    expect(gatewayRun.successful).toBe(1);
    expect(countOf(gatewayRun, 'BYE')).toBe(1);
    expect(events).toEqual(['answered', 'transferred', 'ended']);
    expect(hub.callControl.activeCalls).toBe(0);
  });
});

describe('releasing one side of a bridge', () => {
  it('the hub hanging up the agent of a bridged call releases only the agent: the caller stays answered for what comes next', async () => {
    const agent = await peer({ scenario: 'carrier-answer', address: nextLoopbackAddress(), service: 'agent', calls: 1, timeoutSeconds: 15 });
    const bridged = new Promise<{ call: InboundCall; agentLeg: CallLeg }>((resolve, reject) => {
      hub.callControl.onInboundCall(async (call) => {
        await call.answer(HOLD_SDP);
        const agentLeg = await hub.callControl.originate({ uri: agent.uri, callerId: call.from, sdp: call.remoteSdp ?? HOLD_SDP, ringTimeoutMs: 3_000 });
        if (agentLeg.outcome !== 'answered') return reject(new Error(`agent ${agentLeg.outcome}`));
        await hub.callControl.bridge(call, agentLeg.leg);
        resolve({ call, agentLeg: agentLeg.leg });
      });
    });
    const caller = await peer({ scenario: 'caller-queued', address: nextLoopbackAddress(), target: hubTarget(), service: '4050', calls: 1, timeoutSeconds: 15 });
    const { call, agentLeg } = await bridged;
    await agentLeg.hangup();
    expect(agentLeg.state).toBe('ended');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(call.state).toBe('answered');
    expect(hub.callControl.activeCalls).toBe(1);
    await call.hangup();
    const [callerRun, agentRun] = await Promise.all([caller.finished(), agent.finished()]);
    expect(callerRun.successful).toBe(1);
    expect(countOf(agentRun, 'BYE')).toBe(1);
    expect(hub.callControl.activeCalls).toBe(0);
  });
});

describe('OPTIONS probe', () => {
  it('a gateway that answers is reachable; an address with nobody is not', async () => {
    const gateway = await peer({ scenario: 'options-responder', address: nextLoopbackAddress(), calls: 1, timeoutSeconds: 15 });
    const up = await hub.callControl.probe(gateway.uri, 2_000);
    expect(up).toMatchObject({ reachable: true, sipStatus: 200 });
    expect((await gateway.finished()).successful).toBe(1);
    const address = nextLoopbackAddress();
    const down = await hub.callControl.probe(`sip:gw@${address}:${await freeUdpPort(address)}`, 500);
    expect(down).toMatchObject({ reachable: false, sipStatus: undefined });
    expect(down.rttMs).toBeGreaterThanOrEqual(490);
  });
});

describe('bad traffic', () => {
  it('malformed datagrams are dropped and the next call still works', async () => {
    const before = hub.standin?.stats.malformedDatagrams ?? 0;
    const socket = createSocket('udp4');
    const { address, port } = hub.callControl.sipAddress;
    const garbage = [
      'INVITE sip:x SIP/2.0\r\n\r\n',
      'NOT SIP AT ALL',
      'SIP/2.0 200\r\nVia: nonsense\r\nCSeq: x\r\n\r\n',
      'INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 999\r\n\r\nshort',
      '\u0000\u0001\u0002\u00ff'.repeat(100),
    ];
    for (const datagram of garbage) await new Promise((resolve) => socket.send(datagram, port, address, resolve));
    socket.close();
    hub.callControl.onInboundCall((call) => call.answer(HOLD_SDP));
    const caller = await peer({ scenario: 'caller', address: nextLoopbackAddress(), target: hubTarget(), service: '4001', calls: 1, timeoutSeconds: 15, pauseMs: 50 });
    expect((await caller.finished()).successful).toBe(1);
    if (hub.standin) expect(hub.standin.stats.malformedDatagrams - before).toBe(garbage.length);
  });
});

describe('overload', () => {
  it('an INVITE flood over capacity: calls beyond the limit get 503 with X-Reason, the rest are answered, the process carries on', async () => {
    // The same hub as the other tests: against a real drachtio-server a second client would share its INVITEs.
    const capacity = hub.callControl.capacity;
    hub.callControl.setMaxConcurrentCalls(5);
    try {
      let answered = 0;
      hub.callControl.onInboundCall(async (call) => {
        await call.answer(HOLD_SDP);
        answered++;
      });
      const flood = await peer({
        scenario: 'caller-flood', address: nextLoopbackAddress(), target: hubTarget(), service: '5000',
        calls: 200, rate: 400, concurrency: 200, pauseMs: 1_000, timeoutSeconds: 20,
      });
      const sipp = await flood.finished();
      expect(sipp.failed).toBe(0);
      expect(sipp.successful).toBe(200);
      const rejected = countOf(sipp, '503');
      expect(rejected).toBeGreaterThan(0);
      expect(answered).toBeGreaterThanOrEqual(5);
      expect(answered + rejected).toBe(200);
      expect(hub.callControl.activeCalls).toBe(0);
      // Capacity frees up as calls end: the next call is answered.
      const after = await peer({ scenario: 'caller', address: nextLoopbackAddress(), target: hubTarget(), service: '5001', calls: 1, timeoutSeconds: 15, pauseMs: 50 });
      expect((await after.finished()).successful).toBe(1);
    } finally {
      hub.callControl.setMaxConcurrentCalls(capacity);
    }
  });
});
