// A Bitrix24 portal whose outbound events cannot reach the hub, polled instead: a
// contact typed into the portal and then edited there reaches the contact's journey
// through the poller, each state once. Real Temporal and PostgreSQL, the sandbox portal.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import { journeyStateQuery, journeyWorkflowId, type JourneyState } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';

const phone = '+14155550190';
let hub: TestHub;
let sandbox: BitrixSandbox;
let bitrixId: string;

async function journey(): Promise<JourneyState | undefined> {
  const client = await hub.temporal.client();
  return client.workflow
    .getHandle(journeyWorkflowId(hub.projectId, phone))
    .query(journeyStateQuery)
    .catch(() => undefined);
}

beforeAll(async () => {
  hub = await startTestHub({ idleTimeoutMs: 300_000 });
  sandbox = await startBitrixSandbox({ ratePerSecond: 100, burst: 1000 });
  const response = await hub.request('/v1/connectors', {
    method: 'POST',
    json: { kind: 'bitrix24', name: 'portal', config: { webhookUrl: sandbox.webhookBase, phoneRegion: 'US' }, polling: { intervalSeconds: 1 } },
  });
  expect(response.status).toBe(201);
  bitrixId = ((await response.json()) as { id: string }).id;
}, 120_000);
afterAll(async () => {
  await sandbox?.close();
  await hub?.close();
});

it('a contact typed into the portal, then edited there, reaches the journey through the poller', async () => {
  const id = sandbox.seed('contact', { NAME: 'Ada', LAST_NAME: 'Lovelace', PHONE: [{ VALUE: '(415) 555-0190', VALUE_TYPE: 'WORK' }] });
  const first = await eventually(async () => {
    const state = await journey();
    return state?.merged?.name === 'Ada Lovelace' ? state : undefined;
  }, 45_000, 'the portal contact in the merged view');
  expect(first.crmChanges.find((change) => change.connectorInstanceId === bitrixId)).toMatchObject({ externalId: String(id), origin: 'crm' });

  const update = await fetch(`${sandbox.webhookBase}crm.contact.update.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id, fields: { LAST_NAME: 'King' } }),
  });
  expect(update.status).toBe(200);
  const second = await eventually(async () => {
    const state = await journey();
    return state?.merged?.name === 'Ada King' ? state : undefined;
  }, 45_000, 'the edit in the merged view');
  // Re-read for 30 s while it settles, each state is stored once.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const events = await hub.db.webhookEvent.count({ where: { connectorInstanceId: bitrixId } });
  expect(events).toBe(2);
  expect(second.crmChanges.filter((change) => change.connectorInstanceId === bitrixId).map((change) => change.changes?.name)).toEqual(['Ada King', 'Ada Lovelace']);
}, 120_000);
