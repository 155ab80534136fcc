// What agents type about a contact during a call (script answers): validated per field, kept
// in PostgreSQL with an outbox row in the same transaction, so the contact's journey learns of
// them even when Temporal is down (never lost). The journey's next reconciliation reads the
// latest answer per field as one more source, `agent` (origin "agent"): an `agent-wins` rule
// lets it beat the CRMs, any other rule weighs it like a CRM record dated when it was typed,
// and a value that survives is written to the field's owner CRM like any other.
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { runSql, statement, type SqlTarget } from '../db/sql.js';
import { normalizePhone } from '../phone.js';
import type { SourceRecord } from '../reconcile/types.js';
import { fieldErrorsFrom, isoInstant, type FieldError } from '../validation.js';
import { journeyWorkflowId } from '../../workflows/journey/shared.js';

export const JOURNEY_AGENT_ANSWERS_OUTBOX_KIND = 'journey.agent-answers';

/** The source id and name agent answers carry in reconciliation and in the conflict journal. */
export const AGENT_SOURCE = 'agent';

/** Fields an answer may set: the contact's name and e-mail, and any CRM field as fields.<key>. */
export const answerFieldPattern = /^(name|email|fields\.[A-Za-z][A-Za-z0-9_.-]{0,63})$/;
export const MAX_ANSWERS_PER_REQUEST = 100;
export const MAX_ANSWER_TEXT = 2000;
/** How far ahead of the hub's clock an answer's own time may be (a desktop's clock a little fast). */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

const answerValueSchema = z.union([z.string().max(MAX_ANSWER_TEXT), z.number().finite(), z.boolean()]);

export const agentAnswersInputSchema = z
  .object({
    phone: z.string().min(1).max(64).describe("The contact's number; national numbers are read in the project region"),
    agent: z.string().trim().min(1).max(100).describe('The agent who took the answers'),
    answers: z
      .record(z.string(), answerValueSchema)
      .describe(`Hub field -> value: name, email or fields.<key>; text (at most ${MAX_ANSWER_TEXT} characters), a number or a boolean`),
    answeredAt: isoInstant().optional().describe('When the agent took them (default: now), ISO 8601 with an offset'),
    callId: z.string().min(1).max(200).optional().describe('The call they were taken on'),
  })
  .strict();

export type AgentAnswersInput = z.infer<typeof agentAnswersInputSchema>;
type AnswerValue = z.infer<typeof answerValueSchema>;

export interface AcceptedAnswers {
  phone: string;
  fields: string[];
  answeredAt: string;
  journeyId: string;
}

export class AgentAnswersError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(`invalid answers: ${errors.map((error) => `${error.field} ${error.message}`).join('; ')}`);
  }
}

/** Validates a request's answers: each field named and its value checked, or every error at once. */
export function parseAgentAnswers(input: unknown, defaultRegion: string, now: number): { phone: string; answers: [string, AnswerValue][]; agent: string; answeredAt: Date; callId?: string } {
  const parsed = agentAnswersInputSchema.safeParse(input);
  if (!parsed.success) throw new AgentAnswersError(fieldErrorsFrom(parsed.error));
  const body = parsed.data;
  const errors: FieldError[] = [];
  const phone = normalizePhone(body.phone, defaultRegion);
  if (!phone.ok) errors.push({ field: 'phone', message: `${phone.reason}: "${body.phone}"` });
  const answers = Object.entries(body.answers);
  if (answers.length === 0) errors.push({ field: 'answers', message: 'no answer given' });
  if (answers.length > MAX_ANSWERS_PER_REQUEST) errors.push({ field: 'answers', message: `${answers.length} answers, at most ${MAX_ANSWERS_PER_REQUEST}` });
  for (const [field, value] of answers) {
    if (!answerFieldPattern.test(field)) {
      errors.push({ field: `answers.${field}`, message: 'not a contact field: name, email or fields.<key> (a letter, then letters, digits, _ . -)' });
    } else if (field === 'email' && !(typeof value === 'string' && (value === '' || z.email().safeParse(value).success))) {
      errors.push({ field: `answers.${field}`, message: 'not an e-mail address' });
    }
  }
  const answeredAt = body.answeredAt === undefined ? new Date(now) : new Date(body.answeredAt);
  if (answeredAt.getTime() > now + CLOCK_SKEW_MS) errors.push({ field: 'answeredAt', message: 'in the future' });
  if (errors.length > 0 || !phone.ok) throw new AgentAnswersError(errors);
  return { phone: phone.e164, answers, agent: body.agent, answeredAt, ...(body.callId === undefined ? {} : { callId: body.callId }) };
}

export class AgentAnswers {
  /**
   * `onQueued`: new outbox rows are committed (wakes the dispatcher so the journey hears at once);
   * `onRecorded`: the contact's answers changed (drops the number's cached screen pop card).
   */
  constructor(
    private readonly db: Db,
    private readonly hooks: { onQueued?: () => void; onRecorded?: (projectId: string, phone: string) => void } = {},
  ) {}

  /** Stores the answers and queues the journey's reconciliation, in one transaction. */
  async record(project: { id: string; defaultRegion: string }, input: unknown): Promise<AcceptedAnswers> {
    const answers = parseAgentAnswers(input, project.defaultRegion, Date.now());
    const journeyId = journeyWorkflowId(project.id, answers.phone);
    await this.db.$transaction(async (tx) => {
      await tx.agentAnswer.createMany({
        data: answers.answers.map(([field, value]) => ({
          projectId: project.id,
          contactPhone: answers.phone,
          field,
          value,
          agent: answers.agent,
          callId: answers.callId ?? null,
          answeredAt: answers.answeredAt,
        })),
      });
      const payload: AgentAnswersPayload = { projectId: project.id, phone: answers.phone, fields: answers.answers.map(([field]) => field), agent: answers.agent, answeredAt: answers.answeredAt.toISOString() };
      await tx.outboxEntry.create({ data: { projectId: project.id, kind: JOURNEY_AGENT_ANSWERS_OUTBOX_KIND, workflowId: journeyId, payload } });
    });
    this.hooks.onQueued?.();
    this.hooks.onRecorded?.(project.id, answers.phone);
    return { phone: answers.phone, fields: answers.answers.map(([field]) => field), answeredAt: answers.answeredAt.toISOString(), journeyId };
  }
}

export const agentAnswersPayloadSchema = z.object({
  projectId: z.string(),
  phone: z.string(),
  fields: z.array(z.string()),
  agent: z.string(),
  answeredAt: z.string(),
});
export type AgentAnswersPayload = z.infer<typeof agentAnswersPayloadSchema>;

const selectLatestAnswers = statement(
  'agent_answers.latest',
  `SELECT DISTINCT ON (field) field, value, agent, answered_at
   FROM agent_answers WHERE project_id = $1::uuid AND contact_phone = $2
   ORDER BY field, answered_at DESC, created_at DESC, id DESC`,
);

/**
 * The latest answer per field of a contact as one reconciliation source (origin "agent"),
 * each field dated when it was typed; undefined when no agent answered anything.
 */
export async function agentAnswersRecord(target: SqlTarget, projectId: string, phone: string): Promise<SourceRecord | undefined> {
  const rows = await runSql<{ field: string; value: unknown; agent: string; answered_at: Date }>(target, selectLatestAnswers, [projectId, phone]);
  if (rows.length === 0) return undefined;
  const values: Record<string, unknown> = {};
  const fieldUpdatedAt: Record<string, string> = {};
  let latest = 0;
  for (const row of rows) {
    values[row.field] = row.value;
    const at = new Date(row.answered_at);
    fieldUpdatedAt[row.field] = at.toISOString();
    latest = Math.max(latest, at.getTime());
  }
  return { source: AGENT_SOURCE, sourceName: AGENT_SOURCE, externalId: phone, values, updatedAt: new Date(latest).toISOString(), fieldUpdatedAt, origin: 'agent' };
}
