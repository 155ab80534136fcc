// Two CRMs disagree about one contact: the journey reconciles them per the
// project's rules, journals the conflicts, writes each surviving value to the
// field's owner, and does not ping-pong when the owner's change comes back.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultUserFields, startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import { journeyStateQuery, journeyWorkflowId, type JourneyState } from '../workflows/journey/shared.js';
import { eventually, startTestHub, type TestHub } from './support/hub.js';

const applicationToken = 'app-token-reconcile-01';
const phone = '+79120001122';

let hub: TestHub;
let sandbox: BitrixSandbox;
let server: ServerType;
let hubUrl: string;
let bitrixId: string;
let sqlId: string;

async function api(method: string, path: string, json?: unknown) {
  const response = await hub.request(path, { method, ...(json === undefined ? {} : { json }) });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are checked field by field
  return { status: response.status, body: (await response.json()) as any };
}

/**
 * The portal stamps its events in whole seconds, and the connector takes (event, record, second) as
 * the event id: two events of one record within a second are one event. A later event in these
 * tests is sent in a later second, as it would be by a portal.
 */
let lastEventSecond = 0;
async function portalEvent(recordId: number) {
  const wait = (lastEventSecond + 1) * 1000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 5));
  lastEventSecond = Math.floor(Date.now() / 1000);
  return sandbox.emitContactEvent(`${hubUrl}/v1/webhooks/${bitrixId}`, 'ONCRMCONTACTUPDATE', recordId);
}

async function journey(): Promise<JourneyState> {
  const client = await hub.temporal.client();
  return client.workflow.getHandle(journeyWorkflowId(hub.projectId, phone)).query(journeyStateQuery);
}

beforeAll(async () => {
  hub = await startTestHub({ idleTimeoutMs: 120_000 });
  sandbox = await startBitrixSandbox({ applicationToken, userFields: [...defaultUserFields, 'UF_CRM_STATUS'] });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: hub.app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => resolve(info.port));
  });
  hubUrl = `http://127.0.0.1:${port}`;
  const created = await api('POST', '/v1/connectors', {
    kind: 'bitrix24',
    name: 'sales-bitrix',
    config: { webhookUrl: sandbox.webhookBase, applicationToken, phoneRegion: 'RU', fieldMap: { status: 'UF_CRM_STATUS' } },
  });
  expect(created.status).toBe(201);
  bitrixId = created.body.id;
  sqlId = (await api('GET', '/v1/connectors')).body.connectors.find((c: { name: string }) => c.name === 'demo-crm').id;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await sandbox?.close();
  await hub?.close();
});

it('merges per rules, journals the conflicts, writes owners once and ignores the echo', async () => {
  // Sales fixes names in Bitrix24; the loans CRM (SQL) decides application statuses.
  const rules = await api('PUT', '/v1/reconciliation', {
    fields: {
      name: { rule: { kind: 'ranked', ranking: [bitrixId, sqlId] }, owner: sqlId },
      'fields.status': { rule: { kind: 'ranked', ranking: [sqlId, bitrixId] }, owner: bitrixId },
    },
  });
  expect(rules.status).toBe(200);

  // The loans CRM learns the contact from a task; the portal already has it, spelled differently.
  const task = await api('POST', '/v1/tasks', { phone: '+7 912 000-11-22', name: 'Ada Lovelace', status: 'approved' });
  expect(task.status).toBe(202);
  await eventually(async () => ((await hub.db.task.findUnique({ where: { id: task.body.task.id } }))?.status === 'done' ? true : undefined), 30_000, 'the task');
  const bitrixContact = sandbox.seed('contact', { NAME: 'Ada King', PHONE: [{ VALUE: '8 (912) 000-11-22', VALUE_TYPE: 'MOBILE' }], UF_CRM_STATUS: 'review' });

  // The portal tells the hub its record changed.
  expect((await portalEvent(bitrixContact)).status).toBe(200);
  const merged = await eventually(async () => {
    const state = await journey();
    return (state.reconciliations ?? 0) >= 1 ? state : undefined;
  }, 30_000, 'the first reconciliation');
  expect(merged.merged).toMatchObject({ name: 'Ada King', 'fields.status': 'approved' });
  expect(merged.conflictFields?.sort()).toEqual(['fields.status', 'name']);

  // Both conflicts are in the journal with both values and the rule.
  const conflicts = (await api('GET', '/v1/conflicts?status=open')).body;
  const byField = Object.fromEntries(conflicts.conflicts.map((c: { field: string }) => [c.field, c]));
  expect(byField.name).toMatchObject({ chosenValue: 'Ada King', chosenSource: bitrixId });
  expect(byField.name.candidates.map((c: { value: string }) => c.value).sort()).toEqual(['Ada King', 'Ada Lovelace']);
  expect(byField['fields.status']).toMatchObject({ chosenValue: 'approved', chosenSource: sqlId });

  // Each owner got the surviving value.
  const sqlRow = (await hub.crmRows()).find((row) => row.phone === phone);
  expect(sqlRow).toMatchObject({ full_name: 'Ada King' });
  expect(sandbox.records('contact').find((record) => String(record.ID) === String(bitrixContact))).toMatchObject({ UF_CRM_STATUS: 'approved', NAME: 'Ada King' });
  const updatesAfterFirstPass = sandbox.stats().byMethod['crm.contact.update'] ?? 0;
  expect(updatesAfterFirstPass).toBe(1);

  // The portal reports the hub's own write back; reconciling again finds agreement and writes nothing.
  expect((await portalEvent(bitrixContact)).status).toBe(200);
  const settled = await eventually(async () => {
    const state = await journey();
    return (state.reconciliations ?? 0) >= 2 ? state : undefined;
  }, 30_000, 'the second reconciliation');
  expect(settled.conflictFields).toEqual([]);
  expect(sandbox.stats().byMethod['crm.contact.update'] ?? 0).toBe(updatesAfterFirstPass);
  const sqlRowAgain = (await hub.crmRows()).find((row) => row.phone === phone);
  expect(sqlRowAgain?.updated_at).toEqual(sqlRow?.updated_at);
  expect((await api('GET', '/v1/conflicts?status=open')).body.conflicts).toEqual([]);
});

it('writes a supervisor\'s decision to the owner, keeps it through later reconciliations, and gives way to news', async () => {
  const contact = '+79120003344';
  const stateOf = async () => {
    const client = await hub.temporal.client();
    return client.workflow.getHandle(journeyWorkflowId(hub.projectId, contact)).query(journeyStateQuery);
  };
  const reconciled = (count: number) =>
    eventually(async () => {
      const state = await stateOf();
      return (state.reconciliations ?? 0) >= count ? state : undefined;
    }, 30_000, `reconciliation ${count}`);
  // Two resolutions may take one or two passes: wait until no pass has run for a while before counting.
  const quiet = async () => {
    let last = -1;
    let sameFor = 0;
    await eventually(async () => {
      const passes = (await stateOf()).reconciliations ?? 0;
      sameFor = passes === last ? sameFor + 1 : 0;
      last = passes;
      return sameFor >= 5 ? true : undefined;
    }, 30_000, 'the journey to be quiet');
    return stateOf();
  };
  const openConflicts = async () => (await api('GET', `/v1/conflicts?status=open&phone=${encodeURIComponent(contact)}`)).body.conflicts as { id: string; field: string; candidates: { value: unknown }[] }[];

  // The loans CRM (SQL) owns both fields and is trusted first, so the portal's differing values stay conflicts.
  const rules = await api('PUT', '/v1/reconciliation', {
    fields: {
      name: { rule: { kind: 'ranked', ranking: [sqlId, bitrixId] }, owner: sqlId },
      'fields.status': { rule: { kind: 'ranked', ranking: [sqlId, bitrixId] }, owner: sqlId },
    },
  });
  expect(rules.status).toBe(200);
  const task = await api('POST', '/v1/tasks', { phone: contact, name: 'Grace Hopper', status: 'approved' });
  expect(task.status).toBe(202);
  await eventually(async () => ((await hub.db.task.findUnique({ where: { id: task.body.task.id } }))?.status === 'done' ? true : undefined), 30_000, 'the task');
  const portalRecord = sandbox.seed('contact', { NAME: 'Grace B. Hopper', PHONE: [{ VALUE: contact, VALUE_TYPE: 'MOBILE' }], UF_CRM_STATUS: 'review' });
  const portalSays = async () => expect((await portalEvent(portalRecord)).status).toBe(200);

  await portalSays();
  const first = await reconciled(1);
  expect(first.conflictFields?.sort()).toEqual(['fields.status', 'name']);
  const conflicts = Object.fromEntries((await openConflicts()).map((conflict) => [conflict.field, conflict]));

  // The supervisor takes the portal's spelling of the name, and the loans CRM's status.
  const name = await api('POST', `/v1/conflicts/${conflicts.name?.id}/resolve`, { value: 'Grace B. Hopper', resolvedBy: 'supervisor-1' });
  expect(name.status).toBe(200);
  const status = await api('POST', `/v1/conflicts/${conflicts['fields.status']?.id}/resolve`, { value: 'approved', resolvedBy: 'supervisor-1' });
  expect(status.status).toBe(200);

  // The journey reconciles with the decisions: the owner gets the decided name, nothing reopens.
  const decided = await eventually(async () => {
    const state = await stateOf();
    return (state.resolvedConflicts?.length ?? 0) === 2 && (state.decidedFields?.length ?? 0) === 2 ? state : undefined;
  }, 30_000, 'the decisions reconciled');
  expect(decided.merged).toMatchObject({ name: 'Grace B. Hopper', 'fields.status': 'approved' });
  expect(decided.decidedFields?.sort()).toEqual(['fields.status', 'name']);
  expect(decided.conflictFields).toEqual([]);
  await eventually(async () => ((await hub.crmRows()).find((row) => row.phone === contact)?.full_name === 'Grace B. Hopper' ? true : undefined), 30_000, 'the owner written');
  expect(await openConflicts()).toEqual([]);

  // The portal repeats what it said when the supervisor decided: still settled, nothing reopened, nothing written.
  const rowBefore = (await hub.crmRows()).find((row) => row.phone === contact);
  const passes = (await quiet()).reconciliations ?? 0;
  await portalSays();
  const again = await reconciled(passes + 1);
  expect(again.decidedFields?.sort()).toEqual(['fields.status', 'name']);
  expect(await openConflicts()).toEqual([]);
  expect((await hub.crmRows()).find((row) => row.phone === contact)?.updated_at).toEqual(rowBefore?.updated_at);

  // The portal says something new about the status: the decision gives way and a new conflict opens.
  const edit = await fetch(`${sandbox.webhookBase}crm.contact.update.json`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: portalRecord, fields: { UF_CRM_STATUS: 'rejected' } }),
  });
  expect(edit.status).toBe(200);
  await portalSays();
  const news = await reconciled(passes + 2);
  expect(news.decidedFields).toEqual(['name']);
  expect(news.conflictFields).toEqual(['fields.status']);
  const reopened = await openConflicts();
  expect(reopened.map((conflict) => [conflict.field, conflict.candidates.map((candidate) => candidate.value).sort()])).toEqual([['fields.status', ['approved', 'rejected']]]);
});

it("reads the portal's responsible user as an agent, reconciles it like any field and writes the owner's value back as a portal user", async () => {
  const contact = '+79120005566';
  // The portal's users 17 and 23 are the hub's agents alice and bob.
  const patched = await api('PATCH', `/v1/connectors/${bitrixId}`, { config: { responsibleAgents: { 17: 'alice', 23: 'bob' } } });
  expect(patched.status).toBe(200);
  // The loans CRM decides who owns a customer; the portal is told.
  const rules = await api('PUT', '/v1/reconciliation', {
    fields: { 'fields.responsibleAgent': { rule: { kind: 'ranked', ranking: [sqlId, bitrixId] }, owner: bitrixId } },
  });
  expect(rules.status).toBe(200);

  const task = await api('POST', '/v1/tasks', { phone: contact, name: 'Grace Hopper', responsibleAgent: 'bob' });
  expect(task.status).toBe(202);
  await eventually(async () => ((await hub.db.task.findUnique({ where: { id: task.body.task.id } }))?.status === 'done' ? true : undefined), 30_000, 'the task');
  const record = sandbox.seed('contact', { NAME: 'Grace Hopper', PHONE: [{ VALUE: '8 912 000-55-66', VALUE_TYPE: 'MOBILE' }], ASSIGNED_BY_ID: '17' });
  expect((await portalEvent(record)).status).toBe(200);

  const stateOf = async () => (await hub.temporal.client()).workflow.getHandle(journeyWorkflowId(hub.projectId, contact)).query(journeyStateQuery);
  const merged = await eventually(async () => {
    const state = await stateOf();
    return (state.reconciliations ?? 0) >= 1 ? state : undefined;
  }, 30_000, 'the reconciliation');
  expect(merged.merged?.['fields.responsibleAgent']).toBe('bob');
  expect(merged.conflictFields).toEqual(['fields.responsibleAgent']);
  const conflict = (await api('GET', `/v1/conflicts?status=open&phone=${encodeURIComponent(contact)}`)).body.conflicts[0];
  expect(conflict.candidates.map((candidate: { value: string }) => candidate.value).sort()).toEqual(['alice', 'bob']);
  // Written to the portal as bob's user.
  expect(sandbox.records('contact').find((row) => String(row.ID) === String(record))).toMatchObject({ ASSIGNED_BY_ID: '23' });
});

it('sets aside a record of the same number that the match rule says is someone else: not merged, not written, merged once it agrees', async () => {
  const contact = '+79120007788';
  // Names are the loans CRM's and are mirrored to the portal; records are one person only when their e-mails agree.
  const rules = await api('PUT', '/v1/reconciliation', {
    fields: { name: { rule: { kind: 'ranked', ranking: [sqlId, bitrixId] }, owner: sqlId, mirrors: [bitrixId] } },
    match: { confirmBy: ['email'] },
  });
  expect(rules.status).toBe(200);
  const task = await api('POST', '/v1/tasks', { phone: contact, name: 'Maria Petrova', email: 'maria@example.com' });
  expect(task.status).toBe(202);
  await eventually(async () => ((await hub.db.task.findUnique({ where: { id: task.body.task.id } }))?.status === 'done' ? true : undefined), 30_000, 'the task');
  // The family's landline: the portal knows it as her husband's.
  const husband = sandbox.seed('contact', { NAME: 'Ivan', LAST_NAME: 'Petrov', PHONE: [{ VALUE: '8 912 000-77-88', VALUE_TYPE: 'WORK' }], EMAIL: [{ VALUE: 'ivan@example.com', VALUE_TYPE: 'WORK' }] });
  const updatesBefore = sandbox.stats().byMethod['crm.contact.update'] ?? 0;
  expect((await portalEvent(husband)).status).toBe(200);

  const stateOf = async () => (await hub.temporal.client()).workflow.getHandle(journeyWorkflowId(hub.projectId, contact)).query(journeyStateQuery);
  const reconciled = (count: number) => eventually(async () => {
    const state = await stateOf();
    return (state.reconciliations ?? 0) >= count ? state : undefined;
  }, 30_000, `reconciliation ${count}`);
  const first = await reconciled(1);
  expect(first.merged).toMatchObject({ name: 'Maria Petrova', email: 'maria@example.com' });
  expect(first.conflictFields).toEqual([]);
  expect(first.crmRecords).not.toHaveProperty('sales-bitrix');
  expect(first.setAsideRecords).toEqual([{
    connectorInstanceId: bitrixId, connector: 'sales-bitrix', externalId: String(husband), field: 'email',
    reason: 'email differs: "ivan@example.com" here, "maria@example.com" in demo-crm',
  }]);
  // His record is flagged in the link table and left as it was: the mirror did not overwrite him.
  expect(await hub.db.contactLink.findFirst({ where: { connectorInstanceId: bitrixId, externalId: String(husband) } })).toMatchObject({ contactPhone: contact, ambiguous: true });
  expect(sandbox.stats().byMethod['crm.contact.update'] ?? 0).toBe(updatesBefore);
  expect(sandbox.records('contact').find((row) => String(row.ID) === String(husband))).toMatchObject({ NAME: 'Ivan', LAST_NAME: 'Petrov' });
  // Supervisors see the flag through the API: the journey by phone, and the link table's flagged records.
  const byPhone = await api('GET', `/v1/contacts/journey?phone=${encodeURIComponent('+7 (912) 000-77-88')}`);
  expect(byPhone.status).toBe(200);
  expect(byPhone.body).toMatchObject({ workflowId: journeyWorkflowId(hub.projectId, contact), status: 'RUNNING', state: { setAsideRecords: [{ externalId: String(husband), field: 'email' }] } });
  const flagged = await api('GET', `/v1/contacts/links?ambiguous=true&phone=${encodeURIComponent(contact)}`);
  expect(flagged.body.links).toEqual([expect.objectContaining({ connector: 'sales-bitrix', externalId: String(husband), ambiguous: true })]);
  expect((await api('GET', '/v1/contacts/journey?phone=%2B79120009999')).body).toMatchObject({ status: 'not-started' });
  expect((await api('GET', '/v1/contacts/journey?phone=nobody')).body.errors).toEqual([expect.objectContaining({ field: 'query.phone' })]);

  // The portal's record turns out to be hers (the e-mail is corrected there): now one contact, and the mirror gets her name.
  const emailId = (sandbox.records('contact').find((row) => String(row.ID) === String(husband))?.EMAIL as { ID: string }[])[0]?.ID;
  sandbox.edit('contact', husband, { EMAIL: [{ ID: emailId, VALUE: 'maria@example.com', VALUE_TYPE: 'WORK' }] });
  expect((await portalEvent(husband)).status).toBe(200);
  const second = await reconciled(2);
  expect(second.setAsideRecords).toBeUndefined();
  expect(second.crmRecords).toMatchObject({ 'sales-bitrix': String(husband) });
  expect(second.conflictFields).toEqual(['name']);
  expect(sandbox.records('contact').find((row) => String(row.ID) === String(husband))).toMatchObject({ NAME: 'Maria Petrova' });
});

it("takes what an agent typed as the agent source: agent-wins makes it the value, the owner and mirror get it, the conflict is journaled, the echo writes nothing", async () => {
  const contact = '+79120009900';
  // Agents correct names during calls; the loans CRM owns names, the portal mirrors them.
  const rules = await api('PUT', '/v1/reconciliation', {
    fields: { name: { rule: { kind: 'agent-wins', fallback: { kind: 'ranked', ranking: [sqlId, bitrixId] } }, owner: sqlId, mirrors: [bitrixId] } },
  });
  expect(rules.status).toBe(200);
  const task = await api('POST', '/v1/tasks', { phone: contact, name: 'Alan Turing' });
  expect(task.status).toBe(202);
  await eventually(async () => ((await hub.db.task.findUnique({ where: { id: task.body.task.id } }))?.status === 'done' ? true : undefined), 30_000, 'the task');
  const record = sandbox.seed('contact', { NAME: 'Alan Turing', PHONE: [{ VALUE: '8 912 000-99-00', VALUE_TYPE: 'MOBILE' }] });
  const stateOf = async () => (await hub.temporal.client()).workflow.getHandle(journeyWorkflowId(hub.projectId, contact)).query(journeyStateQuery);

  // On the call the contact spells the name out; the agent's desktop sends the number as it shows it.
  const typed = await api('POST', '/v1/contacts/answers', { phone: '+7 912 000-99-00', agent: 'olga', answers: { name: 'Alan M. Turing' }, callId: 'call-1' });
  expect(typed.status, JSON.stringify(typed.body)).toBe(202);
  expect(typed.body).toMatchObject({ phone: contact, fields: ['name'], journeyId: journeyWorkflowId(hub.projectId, contact) });

  const merged = await eventually(async () => {
    const state = await stateOf();
    return state.merged?.name === 'Alan M. Turing' ? state : undefined;
  }, 30_000, "the agent's name reconciled");
  expect(merged.agentAnswers).toEqual([{ agent: 'olga', fields: ['name'], answeredAt: typed.body.answeredAt }]);
  expect(merged.conflictFields).toEqual(['name']);
  const conflict = (await api('GET', `/v1/conflicts?status=open&phone=${encodeURIComponent(contact)}`)).body.conflicts[0];
  expect(conflict).toMatchObject({ field: 'name', chosenValue: 'Alan M. Turing', chosenSource: 'agent' });
  // The owner and the mirror both hold the agent's spelling.
  await eventually(async () => ((await hub.crmRows()).find((row) => row.phone === contact)?.full_name === 'Alan M. Turing' ? true : undefined), 30_000, 'the owner written');
  await eventually(async () => (sandbox.records('contact').find((row) => String(row.ID) === String(record))?.NAME === 'Alan M. Turing' ? true : undefined), 30_000, 'the mirror written');

  // The portal reports the hub's write: everyone agrees with the agent, nothing is written again.
  const updates = sandbox.stats().byMethod['crm.contact.update'] ?? 0;
  const passes = (await stateOf()).reconciliations ?? 0;
  expect((await portalEvent(record)).status).toBe(200);
  const settled = await eventually(async () => {
    const state = await stateOf();
    return (state.reconciliations ?? 0) > passes ? state : undefined;
  }, 30_000, 'the echo reconciled');
  expect(settled.merged?.name).toBe('Alan M. Turing');
  expect(settled.conflictFields).toEqual([]);
  expect(sandbox.stats().byMethod['crm.contact.update'] ?? 0).toBe(updates);
});
