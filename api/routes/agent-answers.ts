// Agents' answers about a contact (script answers), under /v1/contacts: stored, then reconciled by
// the contact's journey with the CRMs' records (core/agent-desk/agent-answers.ts).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { AgentAnswersError, MAX_ANSWER_TEXT, MAX_ANSWERS_PER_REQUEST, type AgentAnswers } from '../../core/agent-desk/agent-answers.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { validationProblem } from '../problem.js';

const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

const answersBody = z
  .record(z.string(), z.unknown())
  .describe(
    `phone, agent, answers ({ "name": "Ada King", "fields.income": 1200 }: name, email or fields.<key>, up to ${MAX_ANSWERS_PER_REQUEST}; text up to ${MAX_ANSWER_TEXT} characters, numbers or booleans), answeredAt? (ISO 8601 with offset, default now), callId?`,
  )
  .openapi('AgentAnswersInput');

const acceptedAnswers = z
  .object({
    phone: z.string().describe('E.164'),
    fields: z.array(z.string()),
    answeredAt: z.string(),
    journeyId: z.string().describe('The contact journey that reconciles them'),
  })
  .openapi('AgentAnswersAccepted');

export function agentAnswerRoutes({ answers }: { answers: AgentAnswers }) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/answers',
      tags: ['Contacts'],
      summary: "Record what an agent typed about a contact (script answers); the contact's journey reconciles them with the CRMs",
      description:
        "Stored before the answer: 202 means kept. The journey's next reconciliation takes the latest answer per field as the `agent` source: an `agent-wins` rule makes it the field's value, other rules weigh it like a CRM record dated when it was typed, and a surviving value is written to the field's owner CRM. A differing CRM value is a conflict in the journal.",
      security: [{ bearer: [] }],
      request: { body: { required: true, ...json(answersBody) } },
      responses: { 202: { description: 'Stored; the journey reconciles', ...json(acceptedAnswers) }, ...problemResponses(400, 401, 415, 422) },
    }),
    async (c) => {
      const accepted = await answers.record(c.get('project'), c.req.valid('json')).catch((error: unknown) => {
        if (error instanceof AgentAnswersError) throw validationProblem(error.errors, 'The answers are invalid.');
        throw error;
      });
      return c.json(accepted, 202);
    },
  );

  return app;
}
