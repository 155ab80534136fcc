// Reports over real PostgreSQL: CDRs and dialer attempts stored as the hub stores them, read back
// grouped by day in the reader's time zone, by trunk, campaign and agent, as JSON and as CSV; a bad
// query is a 422 naming the parameter.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type Json, type TestHub } from './support/hub.js';

let hub: TestHub;

const cdr = (callId: string, attempt: number, startedAt: string, fields: { trunk: string; answered?: boolean; billable?: number; cost?: string; currency?: string; outcome?: string }) => ({
  projectId: hub.projectId,
  callId,
  attempt,
  direction: 'outbound',
  trunkName: fields.trunk,
  routePrefix: '1',
  fromNumber: '+14155550100',
  toNumber: '+14155550199',
  outcome: fields.outcome ?? (fields.answered ? 'answered' : 'failed'),
  startedAt: new Date(startedAt),
  answeredAt: fields.answered ? new Date(Date.parse(startedAt) + 5_000) : null,
  endedAt: new Date(Date.parse(startedAt) + 65_000),
  durationMs: 60_000,
  billableSeconds: fields.billable ?? 0,
  billingIncrement: '60/60',
  pricePerMinute: '0.010000',
  cost: fields.cost ?? '0',
  currency: fields.currency ?? 'USD',
});

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  await hub.db.callDetailRecord.createMany({
    data: [
      // One call failed over from "main" to "backup": one call, two attempts, priced on the second.
      cdr('call-1', 1, '2026-11-20T22:30:00Z', { trunk: 'main', outcome: 'failed' }),
      cdr('call-1', 2, '2026-11-20T22:30:02Z', { trunk: 'backup', answered: true, billable: 60, cost: '0.010000' }),
      cdr('call-2', 1, '2026-11-21T10:00:00Z', { trunk: 'main', answered: true, billable: 120, cost: '0.020000' }),
      cdr('call-3', 1, '2026-11-21T11:00:00Z', { trunk: 'eu', answered: true, billable: 60, cost: '0.015000', currency: 'EUR' }),
      cdr('call-4', 1, '2026-11-21T12:00:00Z', { trunk: '=HYPERLINK("x")', outcome: 'busy' }),
    ],
  });
  const campaignIds: string[] = [];
  for (const name of ['loans', 'cards']) campaignIds.push((await hub.db.campaign.create({ data: { projectId: hub.projectId, name, config: {} } })).id);
  const attempt = (campaign: number, launchedAt: string, outcome: string | null, agentId: string | null = null, talkSeconds = 0) => {
    const launched = new Date(launchedAt);
    const answered = ['connected', 'abandoned'].includes(outcome ?? '') ? new Date(launched.getTime() + 10_000) : null;
    return {
      id: randomUUID(),
      campaignId: campaignIds[campaign] as string,
      taskId: randomUUID(),
      attempt: 1,
      phone: '+14155550199',
      launchedAt: launched,
      answeredAt: answered,
      endedAt: outcome === null ? null : new Date((answered ?? launched).getTime() + (talkSeconds > 0 ? talkSeconds * 1000 : 20_000)),
      outcome,
      agentId,
    };
  };
  await hub.db.dialerAttempt.createMany({
    data: [
      attempt(0, '2026-11-21T09:00:00Z', 'connected', 'olga', 180),
      attempt(0, '2026-11-21T09:01:00Z', 'connected', 'ivan', 120),
      attempt(0, '2026-11-21T09:02:00Z', 'abandoned'),
      attempt(0, '2026-11-21T09:03:00Z', 'no-answer'),
      attempt(0, '2026-11-21T09:04:00Z', 'busy'),
      attempt(0, '2026-11-21T09:05:00Z', null),
      attempt(1, '2026-11-21T09:06:00Z', 'connected', 'olga', 60),
      attempt(1, '2026-11-21T09:07:00Z', 'lost'),
    ],
  });
});
afterAll(async () => {
  await hub?.close();
});

const span = 'from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z';

describe('GET /v1/reports/calls', () => {
  it('counts calls once across their failover attempts and sums cost per currency, by day in the reader\'s zone', async () => {
    const utc = await hub.call('GET', `/v1/reports/calls?${span}&by=day`);
    expect(utc.status).toBe(200);
    expect(utc.body.rows).toEqual([
      { key: '2026-11-20', calls: 1, attempts: 2, answered: 1, billableSeconds: 60, cost: { USD: '0.010000' } },
      { key: '2026-11-21', calls: 3, attempts: 3, answered: 2, billableSeconds: 180, cost: { EUR: '0.015000', USD: '0.020000' } },
    ]);
    // 22:30 UTC on the 20th is the 21st in Moscow.
    const moscow = await hub.call('GET', `/v1/reports/calls?${span}&by=day&timeZone=Europe/Moscow`);
    expect(moscow.body.rows.map((row: Json) => [row.key, row.calls, row.attempts])).toEqual([['2026-11-21', 4, 5]]);
    const byTrunk = await hub.call('GET', `/v1/reports/calls?${span}&by=trunk`);
    expect(byTrunk.body.rows.map((row: Json) => [row.key, row.attempts, row.cost])).toEqual([
      ['=HYPERLINK("x")', 1, { USD: '0.000000' }],
      ['backup', 1, { USD: '0.010000' }],
      ['eu', 1, { EUR: '0.015000' }],
      ['main', 2, { USD: '0.020000' }],
    ]);
  });

  it('answers CSV a spreadsheet opens without running a cell as a formula', async () => {
    const response = await hub.request(`/v1/reports/calls?${span}&by=trunk&format=csv`);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="calls-by-trunk.csv"');
    const lines = (await response.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('key,calls,attempts,answered,billableSeconds,cost_USD,cost_EUR');
    expect(lines[1]).toBe(`"'=HYPERLINK(""x"")",1,1,0,0,0.000000,`);
    expect(lines[3]).toBe('eu,1,1,1,60,,0.015000');
  });
});

describe('GET /v1/reports/dialer', () => {
  it('gives answer and abandon rates per campaign, agent and day', async () => {
    const byCampaign = await hub.call('GET', `/v1/reports/dialer?${span}&by=campaign`);
    expect(byCampaign.body.rows).toEqual([
      { key: 'cards', attempts: 2, answered: 1, connected: 1, abandoned: 0, busy: 0, noAnswer: 0, failed: 0, lost: 1, answerRate: 0.5, abandonRate: 0, talkSeconds: 60 },
      // Five ended, three answered (two connected, one abandoned); one still ringing.
      { key: 'loans', attempts: 6, answered: 3, connected: 2, abandoned: 1, busy: 1, noAnswer: 1, failed: 0, lost: 0, answerRate: 0.6, abandonRate: 0.3333, talkSeconds: 300 },
    ]);
    const byAgent = await hub.call('GET', `/v1/reports/dialer?${span}&by=agent&campaign=loans`);
    expect(byAgent.body.rows.map((row: Json) => [row.key, row.connected, row.talkSeconds])).toEqual([['(none)', 0, 0], ['ivan', 1, 120], ['olga', 1, 180]]);
    const byDay = await hub.call('GET', `/v1/reports/dialer?${span}&by=day&timeZone=America/Los_Angeles`);
    expect(byDay.body.rows.map((row: Json) => [row.key, row.attempts])).toEqual([['2026-11-21', 8]]);
    expect((await hub.call('GET', `/v1/reports/dialer?${span}&campaign=none`)).body.rows).toEqual([]);
  });

  it('refuses a span backwards or over a year, an unknown zone and an unknown grouping, naming each', async () => {
    const backwards = await hub.call('GET', '/v1/reports/dialer?from=2026-11-22T00:00:00Z&to=2026-11-20T00:00:00Z');
    expect(backwards.status).toBe(422);
    expect(backwards.body.errors).toEqual([{ field: 'query.from', message: 'must be before "to"' }]);
    const long = await hub.call('GET', '/v1/reports/calls?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&timeZone=Mars/Olympus');
    expect(long.body.errors.map((error: Json) => error.field)).toEqual(['query.to', 'query.timeZone']);
    // An offset reads east in one clock and west in PostgreSQL's: only zone names are taken.
    expect((await hub.call('GET', '/v1/reports/calls?timeZone=%2B03:00')).body.errors).toEqual([{ field: 'query.timeZone', message: expect.stringContaining('unknown time zone "+03:00"') }]);
    const grouping = await hub.call('GET', '/v1/reports/calls?by=week&format=xml');
    expect(grouping.status).toBe(422);
    expect(grouping.body.errors.map((error: Json) => error.field).sort()).toEqual(['query.by', 'query.format']);
  });
});
