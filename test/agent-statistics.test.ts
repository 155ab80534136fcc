// Agents' work statistics over real PostgreSQL: a roster (the telephony process's agent states)
// with its changes recorded by AgentStatusLog on a clock the test moves, read back through
// GET /v1/reports/agents by agent and by day, clipped to the span asked for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentRoster } from '../telephony/acd/roster.js';
import { AgentStatusLog } from '../telephony/acd/status-log.js';
import { startTestHub, type Json, type TestHub } from './support/hub.js';

let hub: TestHub;
let clock = Date.parse('2026-11-21T09:00:00Z');
const at = (hhmm: string) => {
  clock = Date.parse(`2026-11-21T${hhmm}:00Z`);
};

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  const now = () => new Date(clock);
  const roster = new AgentRoster(now);
  const log = new AgentStatusLog(hub.db, { warn: () => undefined }, now);
  log.attach(hub.projectId, roster);
  for (const agent of ['olga', 'ivan']) roster.add(agent);
  roster.register('olga', 'sip:olga@127.0.0.1:5070', 24 * 3600 * 1000);

  // olga: in at 09:00, ready at 09:05, a call rings at 09:10 and is taken at 09:11 until 09:20,
  // wrap-up to 09:22, ready again, a break from 09:40, ready at 09:50, out at 10:00.
  at('09:00');
  roster.login('olga');
  at('09:05');
  roster.setReady('olga');
  at('09:10');
  const offer = roster.claimForOffer('olga', 'call-1');
  if (!offer) throw new Error('olga should be offerable');
  at('09:11');
  roster.offerAnswered(offer);
  at('09:20');
  roster.callEnded('olga', 60_000);
  at('09:22');
  roster.setReady('olga');
  at('09:40');
  roster.setNotReady('olga', 'break');
  at('09:50');
  roster.setReady('olga');
  at('10:00');
  roster.logout('olga');
  // ivan: in at 09:30 and ready at 09:30; still ready (no later change).
  at('09:30');
  roster.login('ivan');
  roster.setReady('ivan');
  // A registration change alone is not a state change.
  roster.register('ivan', 'sip:ivan@127.0.0.1:5071', 3600_000);
  await log.settled();
});
afterAll(async () => {
  await hub?.close();
});

describe('GET /v1/reports/agents', () => {
  it("adds up each agent's time per state, the calls taken and the occupancy, clipped to the span", async () => {
    expect(await hub.db.agentStatusChange.count({ where: { projectId: hub.projectId } })).toBe(11);
    const report = await hub.call('GET', '/v1/reports/agents?from=2026-11-21T09:00:00Z&to=2026-11-21T10:30:00Z');
    expect(report.status).toBe(200);
    const byAgent = Object.fromEntries(report.body.rows.map((row: Json) => [row.key, row]));
    // olga: ready 5 + 18 + 10 min, ringing 1, busy 9, wrap-up 2, not ready 5 + 10, logged in 09:00-10:00.
    expect(byAgent.olga).toEqual({
      key: 'olga', readySeconds: 33 * 60, ringingSeconds: 60, busySeconds: 9 * 60, wrapUpSeconds: 120, notReadySeconds: 15 * 60, loggedInSeconds: 3600, calls: 1,
      occupancy: Math.round(((11 * 60) / (45 * 60)) * 10_000) / 10_000,
    });
    // ivan is still ready: counted to the end of the span.
    expect(byAgent.ivan).toMatchObject({ readySeconds: 60 * 60, loggedInSeconds: 60 * 60, calls: 0, occupancy: 0 });

    // A span that starts mid-call counts the call's state from the span's start, and not the call as taken in it.
    const late = await hub.call('GET', '/v1/reports/agents?from=2026-11-21T09:15:00Z&to=2026-11-21T09:30:00Z');
    const olga = late.body.rows.find((row: Json) => row.key === 'olga');
    expect(olga).toMatchObject({ busySeconds: 5 * 60, wrapUpSeconds: 120, readySeconds: 8 * 60, calls: 0 });
    expect(late.body.rows.find((row: Json) => row.key === 'ivan')).toBeUndefined();
  });

  it('by day in the reader\'s time zone, and as CSV', async () => {
    const byDay = await hub.call('GET', '/v1/reports/agents?from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z&by=day&timeZone=Asia/Tokyo');
    // 09:00 UTC is 18:00 in Tokyo, the same day.
    expect(byDay.body.rows.map((row: Json) => [row.key, row.calls])).toEqual([['2026-11-21', 1]]);
    const csv = await hub.request('/v1/reports/agents?from=2026-11-21T09:00:00Z&to=2026-11-21T10:30:00Z&format=csv');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('key,readySeconds,ringingSeconds,busySeconds,wrapUpSeconds,notReadySeconds,loggedInSeconds,calls,occupancy');
    expect(lines).toHaveLength(3);
  });
});
