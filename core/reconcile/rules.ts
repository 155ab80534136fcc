// A project's survivorship rules as stored in `Project.reconciliation` (JSON)
// and sent to PUT /v1/reconciliation: the zod schema, the defaults, and the
// step from stored JSON to the rules the engine runs. No I/O, so workflow code
// may import it.
import { z } from 'zod';
import type { FieldError } from '../validation.js';
import type { FieldPolicy, ReconcileRules, SurvivorshipRule } from './types.js';

const sourceIdSchema = z.string().trim().min(1).max(200).describe('Connector instance id');

const sourceListSchema = (what: string) =>
  z
    .array(sourceIdSchema)
    .max(100)
    .superRefine((ids, context) => {
      ids.forEach((id, index) => {
        if (ids.indexOf(id) !== index) context.addIssue({ code: 'custom', path: [index], message: `"${id}" is listed twice` });
      });
    })
    .describe(what);

const rankedRuleSchema = z
  .object({ kind: z.literal('ranked'), ranking: sourceListSchema('Sources, best first; the first with a value wins').min(1) })
  .strict();

const mostRecentRuleSchema = z
  .object({
    kind: z.literal('most-recent'),
    tieBreak: sourceListSchema('Breaks equal updatedAt, first wins (default: the project\'s source order)').optional(),
  })
  .strict();

/** agent-wins falls back to a plain rule: nesting agent-wins in itself means nothing. */
const agentWinsRuleSchema = z
  .object({
    kind: z.literal('agent-wins'),
    fallback: z.discriminatedUnion('kind', [rankedRuleSchema, mostRecentRuleSchema]).default({ kind: 'most-recent' }),
  })
  .strict();

export const survivorshipRuleSchema = z.discriminatedUnion('kind', [rankedRuleSchema, mostRecentRuleSchema, agentWinsRuleSchema]);

export const fieldPolicySchema = z
  .object({
    rule: survivorshipRuleSchema.default({ kind: 'most-recent' }),
    ignoreEmpty: z.boolean().default(true).describe('null, empty and blank values never win'),
    owner: sourceIdSchema.optional().describe('Connector instance written with the surviving value'),
    mirrors: sourceListSchema('Connector instances that also receive the surviving value').optional(),
  })
  .strict();

/** Hub field names: "name", "email", "status", "fields.applicationNumber"... */
const fieldNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, 'letters, digits, _ . - (1-128), starting with a letter or _')
  // As a JSON key it would set the object's prototype instead of naming a field.
  .refine((name) => name !== '__proto__', 'reserved name');

/** Identity: what must agree, beyond the phone, for two CRMs' records to be merged (core/reconcile/match.ts). */
export const matchRuleSchema = z
  .object({
    confirmBy: z
      .array(fieldNameSchema)
      .max(10)
      .superRefine((fields, context) => {
        fields.forEach((field, index) => {
          if (fields.indexOf(field) !== index) context.addIssue({ code: 'custom', path: [index], message: `"${field}" is listed twice` });
          if (field === 'phone') context.addIssue({ code: 'custom', path: [index], message: 'records are found by the phone; it always agrees' });
        });
      })
      .default([])
      .describe('Hub fields that must agree, beyond the phone, for a record to be the same contact ("email", "name", "fields.birthDate")'),
    requireValues: z.boolean().default(false).describe('A record missing one of those values is set aside (true) or not contradicted by it (false)'),
  })
  .strict();

export const reconcileRulesSchema = z
  .object({
    fields: z.record(fieldNameSchema, fieldPolicySchema).default({}).describe('Policy per hub field'),
    default: fieldPolicySchema.default({ rule: { kind: 'most-recent' }, ignoreEmpty: true }).describe('Policy of fields not listed'),
    legacySources: sourceListSchema('Sources whose old records are kept as they are: never written, and they win only where no other source has a value').default([]),
    match: matchRuleSchema.default({ confirmBy: [], requireValues: false }).describe('When records of two CRMs found by the phone are one contact'),
  })
  .strict();

export type StoredReconcileRules = z.output<typeof reconcileRulesSchema>;

/**
 * The rules of a project that configured none: the most recent non-empty value
 * wins, ties go to the first of `sourceIds` (give the primary CRM first), and
 * nothing is written back until a field has an owner (`options.owner` sets one
 * for every field, e.g. the primary CRM).
 */
export function defaultRules(sourceIds: readonly string[], options: { owner?: string } = {}): ReconcileRules {
  return {
    fields: {},
    default: { rule: { kind: 'most-recent', tieBreak: [...sourceIds] }, ignoreEmpty: true, owner: options.owner },
    legacySources: [],
  };
}

export interface RulesFromProjectOptions {
  /** Owner of every field when the project configured no rules (see defaultRules). */
  owner?: string;
  /** Told when the stored JSON is not valid rules; the defaults are used instead. */
  onInvalid?: (errors: FieldError[]) => void;
}

/**
 * The rules to run for a project from its stored JSON and its current sources
 * (connector instance ids, primary first). `{}` or invalid JSON gives the
 * defaults (invalid is reported through `onInvalid`: PUT validates, so it
 * means a hand edit). References to sources that no longer exist (a connector
 * removed after the rules were saved) are dropped rather than failing every
 * journey of the project, and a most-recent rule without its own tie-break
 * breaks ties in `sourceIds` order.
 */
export function rulesFromProject(json: unknown, sourceIds: readonly string[], options: RulesFromProjectOptions = {}): ReconcileRules {
  const isEmptyObject = json === null || json === undefined || (typeof json === 'object' && !Array.isArray(json) && Object.keys(json).length === 0);
  if (isEmptyObject) return defaultRules(sourceIds, options);
  const parsed = reconcileRulesSchema.safeParse(json);
  if (!parsed.success) {
    options.onInvalid?.(parsed.error.issues.map((issue) => ({ field: issue.path.map(String).join('.') || '(root)', message: issue.message })));
    return defaultRules(sourceIds, options);
  }
  const known = new Set(sourceIds);
  const keep = (ids: readonly string[] | undefined) => (ids ?? []).filter((id) => known.has(id));
  const rule = (value: SurvivorshipRule): SurvivorshipRule => {
    if (value.kind === 'ranked') return { kind: 'ranked', ranking: keep(value.ranking) };
    if (value.kind === 'most-recent') return { kind: 'most-recent', tieBreak: value.tieBreak ? keep(value.tieBreak) : [...sourceIds] };
    return { kind: 'agent-wins', fallback: rule(value.fallback) };
  };
  const policy = (value: FieldPolicy): FieldPolicy => ({
    rule: rule(value.rule),
    ignoreEmpty: value.ignoreEmpty,
    owner: value.owner !== undefined && known.has(value.owner) ? value.owner : undefined,
    mirrors: keep(value.mirrors),
  });
  const fields: Record<string, FieldPolicy> = {};
  for (const [field, value] of Object.entries(parsed.data.fields)) {
    Object.defineProperty(fields, field, { value: policy(value), enumerable: true, writable: true, configurable: true });
  }
  return { fields, default: policy(parsed.data.default), legacySources: keep(parsed.data.legacySources), match: parsed.data.match };
}

/**
 * Every place the rules name a source that is not one of the project's
 * connector instances, by the field path a client sent it at
 * (`fields.name.rule.ranking.0`), and owners or mirrors that are legacy (a
 * legacy source is never written, so owning a field there would do nothing).
 */
export function sourceReferenceErrors(rules: StoredReconcileRules, sourceIds: readonly string[]): FieldError[] {
  const known = new Set(sourceIds);
  const legacy = new Set(rules.legacySources);
  const errors: FieldError[] = [];
  const check = (path: (string | number)[], id: string) => {
    if (!known.has(id)) errors.push({ field: path.join('.'), message: `no connector instance "${id}" in this project` });
  };
  const checkRule = (path: (string | number)[], rule: SurvivorshipRule) => {
    if (rule.kind === 'ranked') rule.ranking.forEach((id, index) => check([...path, 'ranking', index], id));
    if (rule.kind === 'most-recent') (rule.tieBreak ?? []).forEach((id, index) => check([...path, 'tieBreak', index], id));
    if (rule.kind === 'agent-wins') checkRule([...path, 'fallback'], rule.fallback);
  };
  const checkWritable = (path: (string | number)[], id: string) => {
    check(path, id);
    if (known.has(id) && legacy.has(id)) errors.push({ field: path.join('.'), message: `"${id}" is a legacy source and is never written back` });
  };
  const checkPolicy = (path: string[], policy: FieldPolicy) => {
    checkRule([...path, 'rule'], policy.rule);
    if (policy.owner !== undefined) checkWritable([...path, 'owner'], policy.owner);
    (policy.mirrors ?? []).forEach((id, index) => checkWritable([...path, 'mirrors', index], id));
  };
  for (const [field, policy] of Object.entries(rules.fields)) checkPolicy(['fields', field], policy);
  checkPolicy(['default'], rules.default);
  rules.legacySources.forEach((id, index) => check(['legacySources', index], id));
  return errors;
}
