// The screen-pop card: what an agent sees while the phone rings, merged from
// every CRM of the project. Pure functions from what each CRM answered to the
// card, so the service, an activity and the tests build it the same way.
import type { CrmContact } from '../../connectors/sdk/types.js';
import { matchAcrossSources, type MatchRule } from '../reconcile/match.js';
import type { Reconcile, ReconcileResult, ReconcileRules, SourceRecord, SupervisorDecision } from '../reconcile/types.js';
import { HUB_TASK_ID_FIELD } from '../tasks/delivery.js';

/**
 * - ok: the CRM answered in time and holds the number;
 * - not-found: it answered in time and does not;
 * - timeout: no answer by the deadline (still asked in the background; the cached card fills in);
 * - error: it failed (down, refused, misconfigured); `error` says how.
 */
export type SourceStatus = 'ok' | 'not-found' | 'timeout' | 'error';

export interface CardSource {
  instanceId: string;
  name: string;
  kind: string;
  status: SourceStatus;
  /** How long the CRM took; for a timeout, how long it had been asked when the card was built. */
  latencyMs: number;
  /** The CRM's records of this number (more than one: duplicates in that CRM). */
  externalIds: string[];
  error?: string | undefined;
  /** The CRM holds the number, but the project's match rule says its record is someone else: left off the card, and why. */
  setAside?: string | undefined;
}

export interface CardApplication {
  /** Application / order / deal number as the CRMs know it. */
  number: string;
  status: string | null;
  /** False for statuses that end an application (won, lost, closed, rejected...). */
  open: boolean;
  sources: { instanceId: string; externalId: string }[];
}

export interface CardInteraction {
  at: string;
  kind: string;
  subject: string;
  instanceId: string;
}

export interface CardConflict {
  field: string;
  rule: string;
  chosenValue: unknown;
  chosenSource: string | null;
  candidates: { source: string; sourceName: string; value: unknown; updatedAt: string | null }[];
}

export interface CardContact {
  name: string | null;
  email: string | null;
  phone: string;
  responsibleAgent: string | null;
  /** Other scalar fields the CRMs keep (address, application date...), merged by the same rules. */
  fields: Record<string, unknown>;
  /** Field -> connector instance whose value survived. */
  provenance: Record<string, string>;
}

export interface ScreenPopCard {
  /** E.164. */
  phone: string;
  /** Some CRM holds the number. */
  found: boolean;
  /** Some CRM contributed nothing (timed out or failed). */
  partial: boolean;
  /** Some CRM is still being asked: a later lookup (the next ring) can show more. */
  stale: boolean;
  /** When the CRMs were asked. */
  fetchedAt: string;
  contact: CardContact;
  applications: CardApplication[];
  /**
   * Calls, messages, notes, newest first. Always empty for now: no connector
   * can read them (ConnectorOperations writes activities but has no read).
   */
  lastInteractions: CardInteraction[];
  sources: CardSource[];
  /** Disagreements between CRMs and what the rules chose; shown, not journaled here. */
  conflicts: CardConflict[];
}

export interface SourceInstance {
  id: string;
  name: string;
  kind: string;
}

export type SourceOutcome =
  | { status: 'ok' | 'not-found'; latencyMs: number; contacts: CrmContact[] }
  | { status: 'error'; latencyMs: number; error: string }
  | { status: 'timeout'; latencyMs: number };

export interface SourceAnswer {
  instance: SourceInstance;
  outcome: SourceOutcome;
}

/** Field names CRMs use for the agent who owns the contact. */
const responsibleAgentFields = ['responsibleAgent', 'responsible', 'assignedTo', 'assignedAgent'];
/** Fields holding lists of applications / orders / deals. */
const applicationListFields = ['applications', 'orders', 'deals'];
const closedStatus = /^(closed|done|completed|won|lost|lose|rejected|declined|cancell?ed|apology|paid|repaid|issued)$/i;

type Scalar = string | number | boolean;

function scalar(value: unknown): Scalar | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'boolean') return value;
  return undefined;
}

function text(value: unknown): string | null {
  const found = scalar(value);
  return found === undefined ? null : String(found);
}

function listOf(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object' && !Array.isArray(item)) : [];
}

interface ApplicationSeen {
  number: string;
  status: Scalar | undefined;
}

/** Applications a record names: lists (`applications: [{ number, status }]`) or the single `applicationNumber` the intake keeps. */
function applicationsOf(contact: CrmContact): ApplicationSeen[] {
  const seen: ApplicationSeen[] = [];
  for (const field of applicationListFields) {
    for (const item of listOf(contact.fields[field])) {
      const number = text(item.number ?? item.applicationNumber ?? item.id ?? item.externalId);
      if (number !== null) seen.push({ number, status: scalar(item.status ?? item.stage ?? item.STAGE_ID) });
    }
  }
  const single = text(contact.fields.applicationNumber);
  if (single !== null && !seen.some((application) => application.number === single)) {
    seen.push({ number: single, status: scalar(contact.fields.applicationStatus ?? contact.fields.status) });
  }
  return seen;
}

const applicationStatusKey = (number: string) => `applications.${number}.status`;

/**
 * One CRM's answer as a reconcile record: name, email, phone, responsible
 * agent, scalar fields as `fields.<name>` and each application's status as
 * `applications.<number>.status`, so two CRMs disagreeing on a status is a
 * conflict like any other. Structured values other than the known lists are
 * left out: survivorship compares values, and a nested object has no single one.
 * With duplicates in one CRM the first record (the connector's oldest) speaks for it.
 */
export function toSourceRecord(instance: SourceInstance, contacts: CrmContact[]): SourceRecord | undefined {
  const [first] = contacts;
  if (!first) return undefined;
  const values: Record<string, unknown> = {};
  const put = (field: string, value: unknown) => {
    const found = scalar(value);
    if (found !== undefined) values[field] = found;
  };
  put('name', first.name);
  put('email', first.email);
  put('phone', first.phone);
  const agentField = responsibleAgentFields.find((field) => scalar(first.fields[field]) !== undefined);
  if (agentField) put('responsibleAgent', first.fields[agentField]);
  // Fields shown elsewhere on the card are not repeated under `fields`, and the hub's bookkeeping is not shown.
  const lifted = new Set([...responsibleAgentFields, ...applicationListFields.filter((field) => Array.isArray(first.fields[field])), 'applicationNumber', 'applicationStatus', HUB_TASK_ID_FIELD]);
  if (first.fields.applicationNumber !== undefined) lifted.add('status');
  for (const [field, value] of Object.entries(first.fields)) if (!lifted.has(field)) put(`fields.${field}`, value);
  for (const contact of contacts) {
    for (const application of applicationsOf(contact)) {
      const key = applicationStatusKey(application.number);
      if (application.status !== undefined && !(key in values)) values[key] = application.status;
    }
  }
  return { source: instance.id, sourceName: instance.name, externalId: first.externalId, values, updatedAt: first.updatedAt, origin: 'crm' };
}

interface AnsweredSource {
  instance: SourceInstance;
  /** The records that speak for the CRM on the card. */
  contacts: CrmContact[];
  /** Why none does: the match rule found the CRM's records to be someone else. */
  setAside?: string;
}

/**
 * The records each CRM contributes. Without confirming fields, all of its records of the number
 * (duplicates' applications are all shown); with them, the record the match rule accepts, compared
 * with the first CRM's (core/reconcile/match.ts), the same way the journey decides.
 */
function matchAnswered(answered: AnsweredSource[], rule: MatchRule | undefined): AnsweredSource[] {
  if (!rule || rule.confirmBy.length === 0) return answered;
  const candidates = answered.map(({ instance, contacts }) => ({
    source: instance.id,
    records: contacts.map((contact) => ({ contact, values: toSourceRecord(instance, [contact])?.values ?? {} })),
  }));
  const nameOf = (id: string) => answered.find(({ instance }) => instance.id === id)?.instance.name ?? id;
  const decisions = new Map(matchAcrossSources(candidates, rule, (record) => record.values, nameOf).map((decision) => [decision.source, decision]));
  return answered.map(({ instance, contacts }) => {
    const decision = decisions.get(instance.id);
    if (!decision) return { instance, contacts };
    if (decision.outcome === 'matched') return { instance, contacts: [decision.record.contact] };
    return { instance, contacts: [], setAside: decision.reason };
  });
}

export interface BuildCardInput {
  phone: string;
  fetchedAt: string;
  answers: SourceAnswer[];
  /** The project's survivorship rules for these sources. */
  rules: ReconcileRules;
  /** Supervisors' decisions for the contact (the conflict journal): they win while the sources say nothing new. */
  decisions?: readonly SupervisorDecision[] | undefined;
  /** What agents typed about the contact (the `agent` source), merged like the journey merges it. */
  typed?: SourceRecord | undefined;
  reconcile: Reconcile;
}

export function buildCard({ phone, fetchedAt, answers, rules, decisions, typed, reconcile }: BuildCardInput): ScreenPopCard {
  const answered = matchAnswered(answers.flatMap(({ instance, outcome }) => (outcome.status === 'ok' ? [{ instance, contacts: outcome.contacts }] : [])), rules.match);
  const setAside = new Map(answered.flatMap(({ instance, setAside: reason }) => (reason === undefined ? [] : [[instance.id, reason] as const])));
  const records = answered.flatMap(({ instance, contacts }) => toSourceRecord(instance, contacts) ?? []);
  const sources = typed ? [...records, typed] : records;
  const result: ReconcileResult = sources.length > 0 ? reconcile(sources, rules, decisions) : { merged: {}, provenance: {}, conflicts: [], writeBack: {}, decided: [] };
  const { merged } = result;

  const applications = new Map<string, CardApplication>();
  for (const { instance, contacts } of answered) {
    for (const contact of contacts) {
      for (const application of applicationsOf(contact)) {
        const status = text(merged[applicationStatusKey(application.number)]);
        const entry = applications.get(application.number) ?? { number: application.number, status, open: status === null || !closedStatus.test(status), sources: [] };
        if (!entry.sources.some((source) => source.instanceId === instance.id && source.externalId === contact.externalId)) {
          entry.sources.push({ instanceId: instance.id, externalId: contact.externalId });
        }
        applications.set(application.number, entry);
      }
    }
  }

  const fields = Object.fromEntries(
    Object.entries(merged).flatMap(([field, value]) => (field.startsWith('fields.') ? [[field.slice('fields.'.length), value]] : [])),
  );

  return {
    phone,
    found: records.length > 0,
    partial: answers.some(({ outcome }) => outcome.status === 'timeout' || outcome.status === 'error'),
    stale: answers.some(({ outcome }) => outcome.status === 'timeout'),
    fetchedAt,
    contact: {
      name: text(merged.name),
      email: text(merged.email),
      phone: text(merged.phone) ?? phone,
      responsibleAgent: text(merged.responsibleAgent),
      fields,
      provenance: result.provenance,
    },
    // Open ones first: those are what the caller is most likely ringing about.
    applications: [...applications.values()].sort((a, b) => Number(b.open) - Number(a.open)),
    lastInteractions: [],
    sources: answers.map(({ instance, outcome }) => ({
      instanceId: instance.id,
      name: instance.name,
      kind: instance.kind,
      status: outcome.status,
      latencyMs: Math.round(outcome.latencyMs),
      externalIds: outcome.status === 'ok' ? outcome.contacts.map((contact) => contact.externalId) : [],
      ...(outcome.status === 'error' ? { error: outcome.error } : {}),
      ...(setAside.has(instance.id) ? { setAside: setAside.get(instance.id) } : {}),
    })),
    conflicts: result.conflicts.map((conflict) => ({
      field: conflict.field,
      rule: conflict.rule,
      chosenValue: conflict.chosenValue,
      chosenSource: conflict.chosenSource ?? null,
      candidates: conflict.candidates.map((candidate) => ({
        source: candidate.source,
        sourceName: candidate.sourceName,
        value: candidate.value,
        updatedAt: candidate.updatedAt ?? null,
      })),
    })),
  };
}
