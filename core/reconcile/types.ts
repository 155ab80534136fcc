// The contract of reconciliation: what each CRM says about a contact goes in,
// one merged view and the conflicts found come out. Pure data, no I/O, so the
// same code runs in workflows, in the screen pop and in tests.
import type { MatchRule } from './match.js';

/** One CRM's record of the contact, flattened to hub field names. */
export interface SourceRecord {
  /** Connector instance id (the source). */
  source: string;
  /** Human name of the source, for the journal ("legacy-crm"). */
  sourceName: string;
  externalId: string;
  /** Hub field name -> value (name, email, status, responsibleAgent, fields.* ...). */
  values: Record<string, unknown>;
  /** When the source last changed the record (ISO), if it says. */
  updatedAt?: string | undefined;
  /**
   * When single fields last changed (ISO), where known; overrides `updatedAt`
   * for that field. A CRM bumps its record's updatedAt when the hub writes one
   * field back; keeping the other fields' own times stops their older values
   * from looking like the newest news under `most-recent`.
   */
  fieldUpdatedAt?: Record<string, string | undefined> | undefined;
  /** Values typed by an agent in the hub (script answers) carry this origin. */
  origin?: 'crm' | 'agent' | undefined;
  /** The source is marked legacy: its old records are kept as they are, never rewritten. */
  legacy?: boolean | undefined;
}

export type SurvivorshipRule =
  /** The first source in `ranking` that has a (non-empty) value wins. */
  | { kind: 'ranked'; ranking: string[] }
  /**
   * The most recently updated source wins. Equal `updatedAt`s are broken by
   * `tieBreak` (source ids, first wins), then by source id, so the answer never
   * depends on the order records arrive in.
   */
  | { kind: 'most-recent'; tieBreak?: string[] | undefined }
  /** A value entered by an agent wins; otherwise `fallback`. */
  | { kind: 'agent-wins'; fallback: SurvivorshipRule };

export interface FieldPolicy {
  rule: SurvivorshipRule;
  /** Empty strings / nulls never win (default true). */
  ignoreEmpty?: boolean;
  /** Connector instance id that owns the field: changes are written there (and to `mirrors`). */
  owner?: string | undefined;
  mirrors?: string[] | undefined;
}

export interface ReconcileRules {
  /** Policy per hub field; `default` covers fields without one. */
  fields: Record<string, FieldPolicy>;
  default: FieldPolicy;
  /**
   * Sources marked legacy in the project's configuration (in addition to
   * `SourceRecord.legacy`): never written back, and their values survive only
   * where no other source has one.
   */
  legacySources?: string[] | undefined;
  /** When records of two CRMs found by the phone are one contact; absent: the phone alone. */
  match?: MatchRule | undefined;
}

export interface ConflictFinding {
  field: string;
  candidates: {
    source: string;
    sourceName: string;
    value: unknown;
    updatedAt?: string | undefined;
    legacy?: boolean | undefined;
    /** The record the value came from, so a supervisor can find it in the CRM. */
    externalId?: string | undefined;
    origin?: 'crm' | 'agent' | undefined;
  }[];
  rule: string;
  chosenValue: unknown;
  chosenSource: string | undefined;
}

/**
 * A supervisor's answer to a conflict (the journal's latest word on the field):
 * `value` stands until a source says something new for the field, that is a
 * value that is neither the decided one nor what that source held when the
 * supervisor decided (`heldBy`, the conflict's candidates).
 */
export interface SupervisorDecision {
  field: string;
  value: unknown;
  /** The conflict the decision closed, for the journey's view. */
  conflictId?: string | undefined;
  decidedBy?: string | undefined;
  decidedAt?: string | undefined;
  heldBy: { source: string; value: unknown }[];
}

export interface ReconcileResult {
  /** Field -> surviving value. */
  merged: Record<string, unknown>;
  /** Field -> source that supplied it. */
  provenance: Record<string, string>;
  conflicts: ConflictFinding[];
  /** Writes to make so owners (and mirrors) hold the surviving values: source -> field -> value. Never to legacy sources. */
  writeBack: Record<string, Record<string, unknown>>;
  /** Fields whose value is a supervisor's decision that still stands (provenance `supervisor`). */
  decided: string[];
}

export type Reconcile = (records: SourceRecord[], rules: ReconcileRules, decisions?: readonly SupervisorDecision[]) => ReconcileResult;

/** The provenance of a value decided by a supervisor. */
export const SUPERVISOR_SOURCE = 'supervisor';
