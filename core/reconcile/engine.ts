// Survivorship: what every CRM says about one contact goes in; per field one
// surviving value, the disagreements found and the writes that bring owners
// (and mirrors) in line come out. Pure and deterministic (no clock, no I/O, no
// dependence on input order) so a journey workflow can call it and replay it,
// and it never throws on malformed data: an odd value is still a value.
//
// Legacy sources ("leave old data as it is, keep new clients' data right"):
// a legacy source is never written to, and its value survives only where no
// non-legacy source has a value for the field; its disagreements are still
// journaled, so the old data can be cleaned later. See README.md here.
import { SUPERVISOR_SOURCE, type ConflictFinding, type FieldPolicy, type Reconcile, type ReconcileResult, type ReconcileRules, type SourceRecord, type SupervisorDecision, type SurvivorshipRule } from './types.js';
import { comparableValue, defineOwn, hasOwn, isEmptyValue, stableText, timestampOf } from './values.js';

/** One source's value for one field, with everything the rules look at. */
interface Candidate {
  record: NormalRecord;
  value: unknown;
  /** The value in comparison form (trimmed, e-mails lower-cased, others as text). */
  comparable: string;
  /** Exact text of the value: orders candidates that compare equal but differ in form. */
  exact: string;
  /** When this value last changed in ms (the field's own time, else the record's); undefined: unknown, older than any dated value. */
  time: number | undefined;
  updatedAt: string | undefined;
}

interface NormalRecord {
  source: string;
  sourceName: string;
  externalId: string;
  values: Record<string, unknown>;
  updatedAt: string | undefined;
  /** updatedAt in ms; undefined when missing or unreadable (older than any dated record). */
  time: number | undefined;
  /** Field -> its own last change, from fieldUpdatedAt. */
  fieldTimes: Record<string, { updatedAt: string; time: number }>;
  origin: 'crm' | 'agent' | undefined;
  legacy: boolean;
  /** Sort key that makes the input order irrelevant. */
  key: string[];
}

/** Nesting of `agent-wins` deeper than this is a malformed (possibly cyclic) rule. */
const maxRuleDepth = 4;

export const reconcile: Reconcile = (records, rules, decisions = []) => {
  const normal = normalizeRecords(records);
  const legacySources = legacySourcesOf(normal, rules);
  const nameOf = sourceNames(normal);
  const decided = decisionsByField(decisions);
  const result: ReconcileResult = { merged: {}, provenance: {}, conflicts: [], writeBack: {}, decided: [] };
  const writeSurvivor = (policy: FieldPolicy, field: string, value: unknown, comparable: string) => {
    for (const target of writeTargets(policy)) {
      if (legacySources.has(target)) continue;
      if (!needsWrite(normal, target, field, comparable)) continue;
      if (!hasOwn(result.writeBack, target)) defineOwn(result.writeBack, target, {});
      defineOwn(result.writeBack[target] as Record<string, unknown>, field, value);
    }
  };

  for (const field of [...new Set([...fieldsOf(normal), ...decided.keys()])].sort(compareText)) {
    const policy = policyFor(rules, field);
    const ignoreEmpty = policy.ignoreEmpty !== false;
    const candidates: Candidate[] = [];
    for (const record of normal) {
      if (!hasOwn(record.values, field)) continue;
      const value = record.values[field];
      // undefined is "the record has no such field": JSON cannot even carry it.
      if (value === undefined || (ignoreEmpty && isEmptyValue(value))) continue;
      const own = hasOwn(record.fieldTimes, field) ? record.fieldTimes[field] : undefined;
      candidates.push({
        record,
        value,
        comparable: comparableValue(field, value),
        exact: stableText(value),
        time: own ? own.time : record.time,
        updatedAt: own ? own.updatedAt : record.updatedAt,
      });
    }
    const decision = decided.get(field);
    if (decision && standing(field, decision, candidates)) {
      // The supervisor's value stands: it is the survivor, the disagreement it settled is not a
      // conflict any more, and owners and mirrors get it like any survivor.
      defineOwn(result.merged, field, decision.value);
      defineOwn(result.provenance, field, SUPERVISOR_SOURCE);
      result.decided.push(field);
      writeSurvivor(policy, field, decision.value, comparableValue(field, decision.value));
      continue;
    }
    if (candidates.length === 0) continue;

    const current = candidates.filter((candidate) => !candidate.record.legacy);
    const chosen = choose(current.length > 0 ? current : candidates, policy.rule, 0);
    defineOwn(result.merged, field, chosen.value);
    defineOwn(result.provenance, field, chosen.record.source);

    if (new Set(candidates.map((candidate) => candidate.comparable)).size > 1) {
      result.conflicts.push(finding(field, candidates, chosen, describeRule(policy.rule, nameOf, 0)));
    }
    writeSurvivor(policy, field, chosen.value, chosen.comparable);
  }
  return result;
};

/** The latest decision per field; malformed entries are ignored (a decision never makes reconciliation throw). */
function decisionsByField(decisions: unknown): Map<string, SupervisorDecision> {
  const byField = new Map<string, SupervisorDecision>();
  if (!Array.isArray(decisions)) return byField;
  for (const item of decisions as unknown[]) {
    if (item === null || typeof item !== 'object') continue;
    const decision = item as Partial<SupervisorDecision>;
    if (typeof decision.field !== 'string' || decision.field === '' || !hasOwn(decision, 'value') || decision.value === undefined) continue;
    const previous = byField.get(decision.field);
    if (previous && (timestampOf(previous.decidedAt) ?? -Infinity) > (timestampOf(decision.decidedAt) ?? -Infinity)) continue;
    byField.set(decision.field, { ...decision, field: decision.field, value: decision.value, heldBy: Array.isArray(decision.heldBy) ? decision.heldBy : [] });
  }
  return byField;
}

/**
 * A decision stands while every source holds either the decided value or what
 * it held when the supervisor decided. A source saying anything else (or
 * a source that had no value then and has another one now) is news the
 * supervisor has not seen: the rules decide again, and a new conflict opens.
 */
function standing(field: string, decision: SupervisorDecision, candidates: Candidate[]): boolean {
  const decidedValue = comparableValue(field, decision.value);
  const held = new Map<string, Set<string>>();
  for (const entry of decision.heldBy) {
    if (entry === null || typeof entry !== 'object' || typeof entry.source !== 'string') continue;
    const values = held.get(entry.source) ?? new Set<string>();
    values.add(comparableValue(field, entry.value));
    held.set(entry.source, values);
  }
  return candidates.every((candidate) => candidate.comparable === decidedValue || held.get(candidate.record.source)?.has(candidate.comparable) === true);
}

/** A readable name of a rule for the journal, e.g. "agent-wins(ranked[crm-a>crm-b])". */
export function describeRule(rule: SurvivorshipRule | undefined, nameOf: (source: string) => string = (source) => source, depth = 0): string {
  const kind = ruleKind(rule, depth);
  if (kind === 'ranked') return `ranked[${rankingOf(rule).map(nameOf).join('>')}]`;
  if (kind === 'agent-wins') return `agent-wins(${describeRule(fallbackOf(rule), nameOf, depth + 1)})`;
  return 'most-recent';
}

function choose(pool: Candidate[], rule: SurvivorshipRule | undefined, depth: number): Candidate {
  const kind = ruleKind(rule, depth);
  if (kind === 'agent-wins') {
    const typedByAgents = pool.filter((candidate) => candidate.record.origin === 'agent');
    return choose(typedByAgents.length > 0 ? typedByAgents : pool, fallbackOf(rule), depth + 1);
  }
  const order: ((a: Candidate, b: Candidate) => number)[] =
    kind === 'ranked'
      ? [byPosition(rankingOf(rule)), byRecency]
      : [byRecency, byPosition(rule?.kind === 'most-recent' ? listOfStrings(rule.tieBreak) : [])];
  // The last keys make the order total, so any input order gives the same winner.
  order.push(
    (a, b) => compareText(a.record.source, b.record.source),
    (a, b) => compareText(a.record.externalId, b.record.externalId),
    (a, b) => compareText(a.comparable, b.comparable),
    (a, b) => compareText(a.exact, b.exact),
  );
  let best = pool[0] as Candidate;
  for (const candidate of pool.slice(1)) {
    for (const compare of order) {
      const verdict = compare(candidate, best);
      if (verdict < 0) best = candidate;
      if (verdict !== 0) break;
    }
  }
  return best;
}

/** Listed sources first, in their order; unlisted ones after, among themselves equal. */
function byPosition(sources: string[]): (a: Candidate, b: Candidate) => number {
  const position = (candidate: Candidate) => {
    const index = sources.indexOf(candidate.record.source);
    return index === -1 ? sources.length : index;
  };
  return (a, b) => position(a) - position(b);
}

/** Newer first; a record without a readable updatedAt is older than any dated one. */
function byRecency(a: Candidate, b: Candidate): number {
  const left = a.time ?? -Infinity;
  const right = b.time ?? -Infinity;
  return left === right ? 0 : left > right ? -1 : 1;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type RuleKind = SurvivorshipRule['kind'];

/** An unknown or malformed rule falls back to most-recent rather than failing a journey. */
function ruleKind(rule: SurvivorshipRule | undefined, depth: number): RuleKind {
  if (depth > maxRuleDepth || rule === null || typeof rule !== 'object') return 'most-recent';
  return rule.kind === 'ranked' || rule.kind === 'agent-wins' ? rule.kind : 'most-recent';
}

function rankingOf(rule: SurvivorshipRule | undefined): string[] {
  return rule?.kind === 'ranked' ? listOfStrings(rule.ranking) : [];
}

function fallbackOf(rule: SurvivorshipRule | undefined): SurvivorshipRule | undefined {
  return rule?.kind === 'agent-wins' ? rule.fallback : undefined;
}

function listOfStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function policyFor(rules: ReconcileRules | undefined, field: string): FieldPolicy {
  const fields: unknown = rules?.fields;
  // hasOwn: a field named "constructor" must not find Object.prototype's.
  if (fields !== null && typeof fields === 'object' && hasOwn(fields, field)) {
    const policy = (fields as Record<string, unknown>)[field];
    if (policy !== null && typeof policy === 'object') return policy as FieldPolicy;
  }
  const fallback: unknown = rules?.default;
  return fallback !== null && typeof fallback === 'object' ? (fallback as FieldPolicy) : { rule: { kind: 'most-recent' } };
}

function writeTargets(policy: FieldPolicy): string[] {
  const targets = [policy.owner, ...listOfStrings(policy.mirrors)];
  return [...new Set(targets.filter((target): target is string => typeof target === 'string' && target !== ''))];
}

/**
 * A target needs the write when it has no record of the contact (the
 * connector's idempotent upsert creates it) or any of its records holds
 * something that does not compare equal to the survivor: no no-op writes.
 */
function needsWrite(records: NormalRecord[], target: string, field: string, surviving: string): boolean {
  const held = records.filter((record) => record.source === target);
  if (held.length === 0) return true;
  return held.some((record) => {
    const value = hasOwn(record.values, field) ? record.values[field] : undefined;
    return value === undefined || comparableValue(field, value) !== surviving;
  });
}

function finding(field: string, candidates: Candidate[], chosen: Candidate, rule: string): ConflictFinding {
  return {
    field,
    candidates: candidates.map(({ record, value, updatedAt }) => ({
      source: record.source,
      sourceName: record.sourceName,
      value,
      ...(updatedAt === undefined ? {} : { updatedAt }),
      ...(record.legacy ? { legacy: true } : {}),
      ...(record.externalId === '' ? {} : { externalId: record.externalId }),
      ...(record.origin === undefined ? {} : { origin: record.origin }),
    })),
    rule,
    chosenValue: chosen.value,
    chosenSource: chosen.record.source,
  };
}

function normalizeRecords(records: unknown): NormalRecord[] {
  if (!Array.isArray(records)) return [];
  const normal: NormalRecord[] = [];
  for (const item of records as unknown[]) {
    if (item === null || typeof item !== 'object') continue;
    const record = item as Partial<Record<keyof SourceRecord, unknown>>;
    const source = textOrEmpty(record.source);
    const values = record.values !== null && typeof record.values === 'object' && !Array.isArray(record.values) ? (record.values as Record<string, unknown>) : {};
    const updatedAt = typeof record.updatedAt === 'string' ? record.updatedAt : undefined;
    const time = timestampOf(record.updatedAt);
    const origin = record.origin === 'agent' || record.origin === 'crm' ? record.origin : undefined;
    const externalId = textOrEmpty(record.externalId);
    const sourceName = typeof record.sourceName === 'string' && record.sourceName !== '' ? record.sourceName : source;
    const legacy = record.legacy === true;
    const fieldTimes = fieldTimesOf(record.fieldUpdatedAt);
    const key = [source, externalId, String(time ?? ''), stableText(values), stableText(fieldTimes), sourceName, origin ?? '', String(legacy)];
    normal.push({ source, sourceName, externalId, values, updatedAt, time, fieldTimes, origin, legacy, key });
  }
  return normal.sort((a, b) => {
    for (let index = 0; index < a.key.length; index += 1) {
      const verdict = compareText(a.key[index] as string, b.key[index] as string);
      if (verdict !== 0) return verdict;
    }
    return 0;
  });
}

/** Readable per-field times only; an unreadable one leaves the field on the record's time. */
function fieldTimesOf(value: unknown): Record<string, { updatedAt: string; time: number }> {
  const times: Record<string, { updatedAt: string; time: number }> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return times;
  for (const [field, updatedAt] of Object.entries(value as Record<string, unknown>)) {
    const time = timestampOf(updatedAt);
    if (typeof updatedAt === 'string' && time !== undefined) defineOwn(times, field, { updatedAt, time });
  }
  return times;
}

function textOrEmpty(value: unknown): string {
  if (typeof value === 'string') return value;
  return value === undefined || value === null ? '' : stableText(value);
}

/** A source is legacy when the project says so or any of its records does. */
function legacySourcesOf(records: NormalRecord[], rules: ReconcileRules | undefined): Set<string> {
  const legacy = new Set(listOfStrings(rules?.legacySources));
  for (const record of records) {
    if (record.legacy) legacy.add(record.source);
  }
  for (const record of records) {
    if (legacy.has(record.source)) record.legacy = true;
  }
  return legacy;
}

function sourceNames(records: NormalRecord[]): (source: string) => string {
  const names = new Map<string, string>();
  for (const record of records) {
    if (!names.has(record.source)) names.set(record.source, record.sourceName);
  }
  return (source) => names.get(source) ?? source;
}

function fieldsOf(records: NormalRecord[]): string[] {
  const fields = new Set<string>();
  for (const record of records) {
    for (const field of Object.keys(record.values)) fields.add(field);
  }
  return [...fields].sort(compareText);
}
