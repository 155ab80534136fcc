// POST /v1/contacts/answers against the real API and PostgreSQL: what an agent typed is stored with
// the outbox row that tells the contact's journey, in one transaction; bad answers are refused
// field by field and leave nothing behind. (The journey's side: test/journey-reconcile.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentAnswersRecord, JOURNEY_AGENT_ANSWERS_OUTBOX_KIND } from '../core/agent-desk/agent-answers.js';
import { journeyWorkflowId } from '../workflows/journey/shared.js';
import { startTestHub, type TestHub } from './support/hub.js';

let hub: TestHub;

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  // The outbox rows are counted here, not delivered: a running dispatcher would take them away.
  await hub.dispatcher.stop();
});
afterAll(async () => {
  await hub?.close();
});

const stored = async () => ({
  answers: await hub.db.agentAnswer.count({ where: { projectId: hub.projectId } }),
  outbox: await hub.db.outboxEntry.count({ where: { projectId: hub.projectId, kind: JOURNEY_AGENT_ANSWERS_OUTBOX_KIND } }),
});

describe('POST /v1/contacts/answers', () => {
  it('stores the answers and the journey\'s outbox row, the phone in E.164', async () => {
    const before = await stored();
    const answeredAt = new Date(Date.now() - 60_000).toISOString();
    const typed = await hub.call('POST', '/v1/contacts/answers', {
      phone: '(415) 555-2671',
      agent: ' olga ',
      answers: { name: 'Ada King', email: 'ada@example.com', 'fields.income': 1200, 'fields.consent': true },
      answeredAt,
      callId: 'call-7',
    });
    expect(typed.status).toBe(202);
    const journeyId = journeyWorkflowId(hub.projectId, '+14155552671');
    expect(typed.body).toEqual({ phone: '+14155552671', fields: ['name', 'email', 'fields.income', 'fields.consent'], answeredAt, journeyId });
    expect(await stored()).toEqual({ answers: before.answers + 4, outbox: before.outbox + 1 });
    const outbox = await hub.db.outboxEntry.findFirst({ where: { projectId: hub.projectId, kind: JOURNEY_AGENT_ANSWERS_OUTBOX_KIND }, orderBy: { createdAt: 'desc' } });
    expect(outbox).toMatchObject({ workflowId: journeyId, payload: { phone: '+14155552671', agent: 'olga', fields: ['name', 'email', 'fields.income', 'fields.consent'], answeredAt } });
  });

  it('reconciliation reads the latest answer per field as the agent source, each field dated when typed', async () => {
    const phone = '+14155550142';
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
    expect(await agentAnswersRecord(hub.db, hub.projectId, phone)).toBeUndefined();
    for (const [answers, minutesAgo] of [[{ name: 'Bob', 'fields.income': 900 }, 10], [{ name: 'Robert' }, 5], [{ name: 'Rob' }, 20]] as const) {
      expect((await hub.call('POST', '/v1/contacts/answers', { phone, agent: 'ivan', answers, answeredAt: at(minutesAgo) })).status).toBe(202);
    }
    const record = await agentAnswersRecord(hub.db, hub.projectId, phone);
    // The answer typed last wins per field, not the one sent last.
    expect(record).toMatchObject({ source: 'agent', origin: 'agent', values: { name: 'Robert', 'fields.income': 900 } });
    expect(Date.parse(record?.fieldUpdatedAt?.name ?? '')).toBeGreaterThan(Date.parse(record?.fieldUpdatedAt?.['fields.income'] ?? ''));
  });

  it('refuses bad answers naming each field, and stores nothing', async () => {
    const before = await stored();
    const bad = await hub.call('POST', '/v1/contacts/answers', {
      phone: 'call me',
      agent: 'olga',
      answers: { colour: 'red', email: 'not-an-address', 'fields.note': 'x'.repeat(2001), 'fields.list': [1, 2] },
      answeredAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(bad.status).toBe(422);
    expect(bad.type).toBe('application/problem+json');
    // Shapes first (schema), then what needs the project (phone) and the field names.
    expect(bad.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['answers.fields.list', 'answers.fields.note']);
    const names = await hub.call('POST', '/v1/contacts/answers', {
      phone: 'call me',
      agent: 'olga',
      answers: { colour: 'red', email: 'not-an-address', 'fields.': 1 },
      answeredAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(names.status).toBe(422);
    expect(names.body.errors).toEqual([
      { field: 'phone', message: expect.stringContaining('"call me"') },
      { field: 'answers.colour', message: expect.stringContaining('not a contact field') },
      { field: 'answers.email', message: 'not an e-mail address' },
      { field: 'answers.fields.', message: expect.stringContaining('not a contact field') },
      { field: 'answeredAt', message: 'in the future' },
    ]);
    const empty = await hub.call('POST', '/v1/contacts/answers', { phone: '+14155552671', agent: 'olga', answers: {} });
    expect(empty.body.errors).toEqual([{ field: 'answers', message: 'no answer given' }]);
    const missing = await hub.call('POST', '/v1/contacts/answers', { phone: '+14155552671', answers: { name: 'x' }, mood: 'good' });
    expect(missing.body.errors.map((error: { field: string }) => error.field).sort()).toEqual(['agent', 'mood']);
    expect(await stored()).toEqual(before);
  });
});
