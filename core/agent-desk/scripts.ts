// Call scripts: what an agent asks a contact, question by question, each answer tied to a hub
// field (name, email or fields.<key>) so that it goes into the contact's reconciliation as the
// `agent` source. Stored per project by name; the agent page shows one (core/agent-desk/page-links.ts).
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { fieldErrorsFrom, unknownFields, type FieldError } from '../validation.js';
import { answerFieldPattern, MAX_ANSWER_TEXT } from './agent-answers.js';

export const scriptNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const questionSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a letter, then letters, digits, _ or -'),
    prompt: z.string().trim().min(1).max(500).describe('What the agent asks, as the agent reads it'),
    field: z.string().regex(answerFieldPattern, 'name, email or fields.<key>').describe('The hub field the answer sets'),
    kind: z.enum(['text', 'number', 'yes-no', 'choice']),
    options: z.array(z.string().trim().min(1).max(200)).min(1).max(50).optional().describe('The choices (kind "choice" only)'),
    required: z.boolean().default(false),
    showIf: z
      .object({
        question: z.string().min(1).max(64).describe('An earlier question'),
        equals: z.union([z.string().max(200), z.number(), z.boolean()]).describe('The answer that shows this question'),
      })
      .optional()
      .describe('Branching: asked only when an earlier question was answered so (a required question is required only then)'),
  });

export const scriptDefinitionSchema = z
  .object({
    title: z.string().trim().min(1).max(200),
    intro: z.string().max(2000).optional().describe('Read to the contact before the questions'),
    questions: z.array(questionSchema).min(1).max(100),
  });

export type ScriptDefinition = z.infer<typeof scriptDefinitionSchema>;
export type ScriptQuestion = ScriptDefinition['questions'][number];

export interface ScriptView extends ScriptDefinition {
  name: string;
  updatedAt: string;
}

export class ScriptError extends Error {
  constructor(
    readonly status: 404 | 422,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
}

/** A definition's errors the schema cannot see: duplicate ids or fields, options on the wrong kind. */
function definitionErrors(definition: ScriptDefinition): FieldError[] {
  const errors: FieldError[] = [];
  const ids = new Set<string>();
  const fields = new Set<string>();
  definition.questions.forEach((question, index) => {
    if (ids.has(question.id)) errors.push({ field: `questions.${index}.id`, message: `"${question.id}" is used by an earlier question` });
    if (fields.has(question.field)) errors.push({ field: `questions.${index}.field`, message: `"${question.field}" is set by an earlier question` });
    ids.add(question.id);
    fields.add(question.field);
    if (question.kind === 'choice' && question.options === undefined) errors.push({ field: `questions.${index}.options`, message: 'required for kind "choice"' });
    if (question.kind !== 'choice' && question.options !== undefined) errors.push({ field: `questions.${index}.options`, message: 'only for kind "choice"' });
    if (question.field === 'email' && question.kind !== 'text') errors.push({ field: `questions.${index}.kind`, message: 'email is text' });
    // A branch hangs on an earlier question only: the script reads top to bottom and cannot loop.
    if (question.showIf !== undefined) {
      const target = definition.questions.findIndex((candidate) => candidate.id === question.showIf?.question);
      if (target === -1) errors.push({ field: `questions.${index}.showIf.question`, message: `no question "${question.showIf.question}"` });
      else if (target >= index) errors.push({ field: `questions.${index}.showIf.question`, message: `"${question.showIf.question}" is not asked before this question` });
    }
  });
  return errors;
}

/** Shape errors first; once the shape holds, keys the hub does not know and what a shape allows but a script cannot be, all at once. */
export function parseScriptDefinition(input: unknown): ScriptDefinition {
  const parsed = scriptDefinitionSchema.safeParse(input);
  if (!parsed.success) throw new ScriptError(422, 'The script is invalid.', fieldErrorsFrom(parsed.error));
  const errors = [...unknownFields(input, parsed.data), ...definitionErrors(parsed.data)];
  if (errors.length > 0) throw new ScriptError(422, 'The script is invalid.', errors);
  return parsed.data;
}

/**
 * An answer checked against its question: the value the hub stores (numbers as numbers, yes/no as
 * booleans), or why not. Text stays text; an empty answer to an optional question is no answer.
 */
export function checkAnswer(question: ScriptQuestion, value: unknown): { ok: true; value: string | number | boolean | undefined } | { ok: false; message: string } {
  if (value === undefined || value === null || value === '') {
    return question.required ? { ok: false, message: 'required' } : { ok: true, value: undefined };
  }
  switch (question.kind) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? { ok: true, value } : { ok: false, message: 'expected a number' };
    case 'yes-no':
      return typeof value === 'boolean' ? { ok: true, value } : { ok: false, message: 'expected yes or no (true / false)' };
    case 'choice':
      return typeof value === 'string' && (question.options ?? []).includes(value) ? { ok: true, value } : { ok: false, message: `expected one of: ${(question.options ?? []).join(', ')}` };
    case 'text':
      if (typeof value !== 'string') return { ok: false, message: 'expected text' };
      return value.length > MAX_ANSWER_TEXT ? { ok: false, message: `at most ${MAX_ANSWER_TEXT} characters` } : { ok: true, value };
  }
}

/**
 * Which questions are asked given these answers (by question id): those without a condition, and
 * those whose condition's question is asked and was answered with its value. Read top to bottom.
 */
export function askedQuestions(definition: ScriptDefinition, answers: Readonly<Record<string, unknown>>): Set<string> {
  const asked = new Set<string>();
  for (const question of definition.questions) {
    const condition = question.showIf;
    if (condition === undefined || (asked.has(condition.question) && answers[condition.question] === condition.equals)) asked.add(question.id);
  }
  return asked;
}

/**
 * A page's answers (question id -> answer) checked against the script: the hub fields they set
 * and the questions answered, or every error by `answers.<question id>`. Questions a branch does
 * not ask may not be answered and are never required.
 */
export function scriptAnswers(
  definition: ScriptDefinition,
  answers: Readonly<Record<string, unknown>>,
): { ok: true; byField: Record<string, string | number | boolean>; saved: string[] } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  for (const key of Object.keys(answers)) {
    if (!definition.questions.some((question) => question.id === key)) errors.push({ field: `answers.${key}`, message: 'not a question of this script' });
  }
  const asked = askedQuestions(definition, answers);
  const byField: Record<string, string | number | boolean> = {};
  const saved: string[] = [];
  for (const question of definition.questions) {
    const answer = answers[question.id];
    if (!asked.has(question.id)) {
      if (answer !== undefined && answer !== null && answer !== '') {
        errors.push({ field: `answers.${question.id}`, message: `not asked: shown only when ${question.showIf?.question} is ${JSON.stringify(question.showIf?.equals)}` });
      }
      continue;
    }
    const checked = checkAnswer(question, answer);
    if (!checked.ok) errors.push({ field: `answers.${question.id}`, message: checked.message });
    else if (checked.value !== undefined) {
      byField[question.field] = checked.value;
      saved.push(question.id);
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  if (saved.length === 0) return { ok: false, errors: [{ field: 'answers', message: 'no answer given' }] };
  return { ok: true, byField, saved };
}

/** An error named by hub field (`answers.fields.income`, as agents' answers name them) renamed to the question that set it. */
export function questionFieldName(definition: ScriptDefinition, name: string): string {
  const field = name.startsWith('answers.') ? name.slice('answers.'.length) : undefined;
  const question = field === undefined ? undefined : definition.questions.find((candidate) => candidate.field === field);
  return question ? `answers.${question.id}` : name;
}

export class AgentScripts {
  constructor(private readonly db: Db) {}

  /** Creates or replaces a script; true when it is new. */
  async put(projectId: string, name: string, input: unknown): Promise<{ script: ScriptView; created: boolean }> {
    if (!scriptNamePattern.test(name)) throw new ScriptError(422, 'The script name is invalid.', [{ field: 'path.name', message: 'a letter or digit, then letters, digits, ".", "_" or "-" (64 at most)' }]);
    const definition = parseScriptDefinition(input);
    const existing = await this.db.agentScript.findUnique({ where: { projectId_name: { projectId, name } }, select: { id: true } });
    const row = await this.db.agentScript.upsert({
      where: { projectId_name: { projectId, name } },
      create: { projectId, name, definition },
      update: { definition },
    });
    return { script: viewOf(row), created: existing === null };
  }

  async get(projectId: string, name: string): Promise<ScriptView> {
    const row = await this.db.agentScript.findUnique({ where: { projectId_name: { projectId, name } } });
    if (!row) throw new ScriptError(404, `No script "${name}" in this project.`);
    return viewOf(row);
  }

  /** The script if it exists, else undefined (the agent page of a link whose script was deleted). */
  async find(projectId: string, name: string): Promise<ScriptView | undefined> {
    const row = await this.db.agentScript.findUnique({ where: { projectId_name: { projectId, name } } });
    return row ? viewOf(row) : undefined;
  }

  async list(projectId: string): Promise<ScriptView[]> {
    const rows = await this.db.agentScript.findMany({ where: { projectId }, orderBy: { name: 'asc' } });
    return rows.map(viewOf);
  }

  async remove(projectId: string, name: string): Promise<void> {
    const { count } = await this.db.agentScript.deleteMany({ where: { projectId, name } });
    if (count === 0) throw new ScriptError(404, `No script "${name}" in this project.`);
  }
}

function viewOf(row: { name: string; definition: unknown; updatedAt: Date }): ScriptView {
  // Stored rows were validated when written; a row edited by hand is read as far as it parses.
  const parsed = scriptDefinitionSchema.safeParse(row.definition);
  const definition: ScriptDefinition = parsed.success ? parsed.data : { title: row.name, questions: [] };
  return { name: row.name, ...definition, updatedAt: row.updatedAt.toISOString() };
}
