// Reconciling a contact across the project's CRMs: read every CRM's record of
// the phone, apply the project's survivorship rules, journal the conflicts,
// write surviving values to each field's owner (and mirrors), and report what
// was written so the journey can recognize the echoes of its own writes.
// Idempotent: run again on agreeing CRMs it reads, finds no conflict and writes nothing.
import { ApplicationFailure } from '@temporalio/activity';
import type { ConnectorRuntime } from '../../connectors/runtime.js';
import type { CrmContact } from '../../connectors/sdk/types.js';
import { sqlPoolOf, type Db } from '../../core/db/client.js';
import { linkRecordsToContact, type RecordLink } from '../../core/webhooks/contact-links.js';
import { agentAnswersRecord } from '../../core/agent-desk/agent-answers.js';
import { ConflictJournal } from '../../core/reconcile/journal.js';
import { reconcile } from '../../core/reconcile/engine.js';
import { matchAcrossSources } from '../../core/reconcile/match.js';
import type { ProjectSettingsCache } from '../../core/connectors/project-settings.js';
import type { SourceRecord } from '../../core/reconcile/types.js';
import { hashFieldValues } from '../../core/webhooks/echo.js';
import { toActivityFailure, whileHeartbeating } from './activities.js';
import type { SetAsideRecord } from './shared.js';
import { HUB_TASK_ID_FIELD } from '../../core/tasks/delivery.js';

export interface ReconcileInput {
  projectId: string;
  phone: string;
  /** Connector instances that reported a change: their cached reads are dropped first. */
  changedSources?: string[];
}

export interface HubWrite {
  connectorInstanceId: string;
  externalId: string;
  fieldHashes: Record<string, string>;
  at: string;
}

export interface ReconcileOutcome {
  merged: Record<string, unknown>;
  /** Connector instance name -> record id. */
  crmRecords: Record<string, string>;
  conflictFields: string[];
  /** Fields held at a supervisor's decision. */
  decidedFields: string[];
  writes: HubWrite[];
  /** Records found by the phone that the project's match rule says are someone else: flagged, not merged, not written. */
  setAside?: SetAsideRecord[];
}

const coreFields = ['name', 'email'] as const;

/** A CRM record as reconcile sees it: hub field names, fields.* flattened one level. */
function toSource(instance: { id: string; name: string }, record: CrmContact, legacy: boolean): SourceRecord {
  const values: Record<string, unknown> = { name: record.name, email: record.email };
  for (const [field, value] of Object.entries(record.fields)) {
    // The hub's own bookkeeping is not contact data.
    if (field === HUB_TASK_ID_FIELD) continue;
    values[`fields.${field}`] = value;
  }
  return { source: instance.id, sourceName: instance.name, externalId: record.externalId, values, updatedAt: record.updatedAt, legacy };
}

function toContactInput(phone: string, values: Record<string, unknown>) {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) if (key.startsWith('fields.')) fields[key.slice('fields.'.length)] = value;
  return {
    phone,
    ...(typeof values.name === 'string' ? { name: values.name } : {}),
    ...(typeof values.email === 'string' ? { email: values.email } : {}),
    fields,
  };
}

export function createReconcileActivities({ db, connectors, settings }: { db: Db; connectors: ConnectorRuntime; settings: ProjectSettingsCache }) {
  const journal = new ConflictJournal(db);
  const sql = sqlPoolOf(db);

  return {
    async reconcileContact(input: ReconcileInput): Promise<ReconcileOutcome> {
      return whileHeartbeating(() => reconcileOne(input));
    },
  };

  async function reconcileOne(input: ReconcileInput): Promise<ReconcileOutcome> {
    const { instances, rules: projectRules } = await settings.get(input.projectId);
    const legacy = new Set(projectRules.legacySources ?? []);
    for (const source of input.changedSources ?? []) connectors.forgetReads(source);

    const records: SourceRecord[] = [];
    const crmRecords: Record<string, string> = {};
    const links: RecordLink[] = [];
    const setAside: SetAsideRecord[] = [];
    let answers: CrmContact[][];
    try {
      // Every CRM is asked at once; the answers are taken in the instances' order (primary first).
      answers = await Promise.all(instances.map(async (instance) => (await connectors.get(instance)).findContacts({ phone: input.phone })));
    } catch (error) {
      throw toActivityFailure(error);
    }
    // Several records of the phone in one CRM are flagged ambiguous, and the first the match rule
    // accepts speaks; a CRM whose records the rule rejects is someone else's: flagged, left out.
    const candidates = instances.map((instance, index) => ({ source: instance.id, records: (answers[index] ?? []).map((record) => toSource(instance, record, legacy.has(instance.id))) }));
    const nameOf = (id: string) => instances.find((instance) => instance.id === id)?.name ?? id;
    for (const decision of matchAcrossSources(candidates, projectRules.match, (record) => record.values, nameOf)) {
      const { record } = decision;
      if (decision.outcome === 'matched') {
        records.push(record);
        crmRecords[record.sourceName] = record.externalId;
      } else {
        setAside.push({ connectorInstanceId: record.source, connector: record.sourceName, externalId: record.externalId, field: decision.field, reason: decision.reason });
      }
      links.push({ connectorInstanceId: record.source, externalId: record.externalId, ambiguous: decision.outcome === 'set-aside' || decision.ambiguous });
    }
    const someoneElse = new Set(setAside.map((entry) => entry.connectorInstanceId));
    const [decisions, typed] = await Promise.all([
      journal.decisions(input.projectId, input.phone),
      agentAnswersRecord(sql, input.projectId, input.phone),
      linkRecordsToContact(sql, input.projectId, input.phone, links),
    ]);
    // What agents typed is about this contact by construction: no match rule to pass, no CRM record to link.
    if (typed) records.push(typed);

    const result = reconcile(records, projectRules, decisions);
    const allFields = [...new Set(records.flatMap((record) => Object.keys(record.values)).concat(coreFields))];
    const conflictFields = result.conflicts.map((conflict) => conflict.field);
    await journal.record(input.projectId, input.phone, result.conflicts, {
      settledFields: allFields.filter((field) => !conflictFields.includes(field)),
    });

    const writes: HubWrite[] = [];
    for (const [source, values] of Object.entries(result.writeBack)) {
      // The number belongs to someone else there: writing would overwrite that person's record.
      if (someoneElse.has(source)) continue;
      const instance = instances.find((candidate) => candidate.id === source);
      if (!instance) throw ApplicationFailure.nonRetryable(`write-back to unknown connector ${source}`, 'UnknownSource');
      try {
        const crm = await connectors.get(instance);
        const written = await crm.upsertContact(toContactInput(input.phone, values));
        connectors.forgetReads(instance.id);
        writes.push({ connectorInstanceId: instance.id, externalId: written.externalId, fieldHashes: hashFieldValues(values), at: new Date().toISOString() });
        crmRecords[instance.name] = written.externalId;
      } catch (error) {
        throw toActivityFailure(error);
      }
    }
    return { merged: result.merged, crmRecords, conflictFields, decidedFields: result.decided, writes, ...(setAside.length > 0 ? { setAside } : {}) };
  }
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
