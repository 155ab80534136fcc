// Agents' presence through the API (/v1/agents, project key) against a real telephony process: the
// API checks the request and forwards it to the process's control endpoint, which holds the roster.
// Bad presence is a 422 naming the field even while telephony is down; telephony down is a 503 with
// Retry-After, never a 500; what the roster refuses keeps its status and field.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../embedded/ports.js';
import { eventually, startTestHub, type Json, type TestHub } from './support/hub.js';
import { startTelephonyProcess, type TelephonyProcess } from './support/telephony-process.js';

let hub: TestHub;
let telephony: TelephonyProcess | undefined;
let controlPort: number;
let dataDir: string;

beforeAll(async () => {
  controlPort = await findFreePort();
  dataDir = await mkdtemp(join(tmpdir(), 'hub-presence-'));
  hub = await startTestHub({ worker: false, telephonyControlUrl: `http://127.0.0.1:${controlPort}` });
});
afterAll(async () => {
  await telephony?.process.kill('SIGKILL');
  await hub?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('/v1/agents', () => {
  it('refuses bad presence naming the field, and answers 503 with Retry-After while telephony is down', async () => {
    const bad = await hub.call('PUT', '/v1/agents/olga/presence', { status: 'away', contact: 'olga-phone', expiresSeconds: 0 });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((error: Json) => error.field).sort()).toEqual(['contact', 'expiresSeconds', 'status']);
    expect((await hub.call('PUT', '/v1/agents/olga/presence', { status: 'ready', mood: 'good' })).body.errors).toEqual([{ field: 'mood', message: 'unknown field' }]);

    const down = await hub.request('/v1/agents/olga/presence', { method: 'PUT', json: { status: 'ready' } });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('5');
    expect(down.headers.get('content-type')).toBe('application/problem+json');
    expect((await hub.request('/v1/agents')).status).toBe(503);
  });

  it("sets presence in the telephony process's roster and lists the project's agents", async () => {
    telephony = await startTelephonyProcess(hub, { dataDir, telephonyTaskQueue: hub.telephonyTaskQueue, controlPort });
    await telephony.healthy();

    const ready = await hub.call('PUT', '/v1/agents/olga/presence', { status: 'ready', contact: 'sip:olga@127.0.0.1:5070' });
    expect(ready.status, JSON.stringify(ready.body)).toBe(200);
    expect(ready.body).toMatchObject({ id: 'olga', status: 'ready', registered: true });
    const away = await hub.call('PUT', '/v1/agents/ivan/presence', { status: 'not-ready', reason: 'training' });
    expect(away.body).toMatchObject({ id: 'ivan', status: 'not-ready', notReadyReason: 'training' });

    // The roster the telephony process routes calls by says the same.
    const roster = (await (await telephony.control(`/projects/${hub.projectId}/agents`)).json()) as { agents: Json[] };
    expect(roster.agents.map((agent) => [agent.id, agent.status]).sort()).toEqual([['ivan', 'not-ready'], ['olga', 'ready']]);
    const listed = await hub.call('GET', '/v1/agents');
    expect(listed.status).toBe(200);
    expect(listed.body.agents.map((agent: Json) => [agent.id, agent.status]).sort()).toEqual([['ivan', 'not-ready'], ['olga', 'ready']]);

    const gone = await hub.call('PUT', '/v1/agents/olga/presence', { status: 'logged-out' });
    expect(gone.body).toMatchObject({ id: 'olga', status: 'logged-out' });

    // The process records each state change for the agents' statistics, in order.
    const changes = await eventually(async () => {
      const rows = await hub.db.agentStatusChange.findMany({ where: { projectId: hub.projectId, agentId: 'olga' }, orderBy: { id: 'asc' } });
      return rows.length >= 3 ? rows : undefined;
    }, 10_000, "olga's state changes");
    expect(changes.map((row) => [row.fromStatus, row.toStatus])).toEqual([['logged-out', 'not-ready'], ['not-ready', 'ready'], ['ready', 'logged-out']]);
  });
});
