// Identity across CRMs: which of the records each CRM holds under the contact's number are the
// contact. The hub keys a contact by its E.164 phone, so every CRM is asked by the number; the
// project's match rule then says what else must agree before two CRMs' records are merged (a
// family's shared landline, a number given to a new customer). A record the rule sets aside is
// flagged, never merged, and never written. Pure code with no I/O: it runs in the reconcile
// activity and in the screen pop alike.
import { isEmptyValue, stableText } from './values.js';

export interface MatchRule {
  /**
   * Hub fields ("email", "name", "fields.birthDate") that must agree, beyond the phone, for a
   * CRM's record to be the contact the first CRM's record is. Empty: the number alone decides.
   */
  confirmBy: string[];
  /** A record without one of those values: false (default) it does not contradict; true it is set aside. */
  requireValues: boolean;
}

export interface SourceCandidates<T> {
  source: string;
  /** The CRM's records of the number, its oldest first. */
  records: readonly T[];
}

export type MatchDecision<T> =
  /** This record is the contact; `ambiguous` when several of the source's records qualified (the first is taken). */
  | { source: string; outcome: 'matched'; record: T; ambiguous: boolean }
  /** The source's records are someone else: `reason` names the field that disagrees with the first CRM's record, and that CRM. */
  | { source: string; outcome: 'set-aside'; record: T; field: string; reason: string };

/**
 * One decision per source that holds the number, in the order given (give the primary CRM first: its
 * record is the one the others are compared with). Without confirming fields every source's first
 * record is the contact, flagged ambiguous when the source holds several, as before match rules.
 */
export function matchAcrossSources<T>(
  candidates: readonly SourceCandidates<T>[],
  rule: MatchRule | undefined,
  valuesOf: (record: T) => Record<string, unknown>,
  /** How a reason names the source compared with (its connector name); the source id by default. */
  nameOf: (source: string) => string = (source) => source,
): MatchDecision<T>[] {
  const decisions: MatchDecision<T>[] = [];
  let anchor: { source: string; values: Record<string, unknown> } | undefined;
  for (const { source, records } of candidates) {
    const [first] = records;
    if (first === undefined) continue;
    if (anchor === undefined || !rule || rule.confirmBy.length === 0) {
      decisions.push({ source, outcome: 'matched', record: first, ambiguous: records.length > 1 });
      anchor ??= { source, values: valuesOf(first) };
      continue;
    }
    const against = anchor;
    const verdicts = records.map((record) => disagreement(against.values, valuesOf(record), rule, nameOf(against.source)));
    const agreeing = records.filter((_, index) => verdicts[index] === undefined);
    const [taken] = agreeing;
    if (taken !== undefined) {
      decisions.push({ source, outcome: 'matched', record: taken, ambiguous: agreeing.length > 1 });
      continue;
    }
    const found = verdicts[0]!;
    decisions.push({ source, outcome: 'set-aside', record: first, field: found.field, reason: found.reason });
  }
  return decisions;
}

/** The first confirming field on which `candidate` is not the anchor's contact, or undefined when none. */
function disagreement(anchor: Record<string, unknown>, candidate: Record<string, unknown>, rule: MatchRule, anchorName: string): { field: string; reason: string } | undefined {
  for (const field of rule.confirmBy) {
    const expected = anchor[field];
    const actual = candidate[field];
    if (isEmptyValue(expected) || isEmptyValue(actual)) {
      if (!rule.requireValues) continue;
      return { field, reason: `${field} is missing ${isEmptyValue(actual) ? 'here' : `in ${anchorName}`}` };
    }
    if (matchKey(expected) !== matchKey(actual)) return { field, reason: `${field} differs: ${quote(actual)} here, ${quote(expected)} in ${anchorName}` };
  }
  return undefined;
}

/**
 * Identity compares more loosely than survivorship: case and runs of spaces do not make two
 * people ("ADA  KING" is Ada King); survivorship still journals the spelling as a conflict.
 */
function matchKey(value: unknown): string {
  const text = typeof value === 'string' ? value : stableText(value);
  return text.trim().replace(/\s+/g, ' ').toLowerCase();
}

function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : stableText(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}
