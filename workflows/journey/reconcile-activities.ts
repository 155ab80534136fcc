// Reconciling a contact across the project's CRMs: read every CRM's record of
// the phone, apply the project's survivorship rules, journal the conflicts,
// write surviving values to each field's owner (and mirrors), and report what
// was written so the journey can recognize the echoes of its own writes.
// Idempotent: run again on agreeing CRMs it reads, finds no conflict and writes nothing.
import { ApplicationFailure } from '@temporalio/activity';
import type { ConnectorRuntime } from '../../connectors/runtime.js';
import type { CrmContact } from '../../connectors/sdk/types.js';
import type { Db } from '../../core/db/client.js';
import { ConflictJournal } from '../../core/reconcile/journal.js';
import { reconcile } from '../../core/reconcile/engine.js';
import { ProjectReconciliation } from '../../core/reconcile/project-rules.js';
import type { SourceRecord } from '../../core/reconcile/types.js';
import { hashFieldValues } from '../../core/webhooks/echo.js';
import { toActivityFailure } from './activities.js';

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
  writes: HubWrite[];
}

const coreFields = ['name', 'email'] as const;

/** A CRM record as reconcile sees it: hub field names, fields.* flattened one level. */
function toSource(instance: { id: string; name: string }, record: CrmContact, legacy: boolean): SourceRecord {
  const values: Record<string, unknown> = { name: record.name, email: record.email };
  for (const [field, value] of Object.entries(record.fields)) {
    // The hub's own bookkeeping is not contact data.
    if (field === 'hubTaskId') continue;
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

export function createReconcileActivities({ db, connectors }: { db: Db; connectors: ConnectorRuntime }) {
  const rules = new ProjectReconciliation(db);
  const journal = new ConflictJournal(db);

  return {
    async reconcileContact(input: ReconcileInput): Promise<ReconcileOutcome> {
      const instances = await db.connectorInstance.findMany({ where: { projectId: input.projectId }, orderBy: [{ isPrimary: 'desc' }, { createdAt: 'asc' }] });
      const projectRules = await rules.effective(input.projectId);
      const legacy = new Set(projectRules.legacySources ?? []);
      for (const source of input.changedSources ?? []) connectors.forgetReads(source);

      const records: SourceRecord[] = [];
      const crmRecords: Record<string, string> = {};
      try {
        for (const instance of instances) {
          const crm = await connectors.get(instance);
          const found = await crm.findContacts({ phone: input.phone });
          // Two records of one phone in one CRM are flagged as ambiguous, never merged: the oldest speaks.
          const record = found[0];
          if (!record) continue;
          records.push(toSource(instance, record, legacy.has(instance.id)));
          crmRecords[instance.name] = record.externalId;
          await db.contactLink.upsert({
            where: { projectId_connectorInstanceId_externalId: { projectId: input.projectId, connectorInstanceId: instance.id, externalId: record.externalId } },
            create: { projectId: input.projectId, contactPhone: input.phone, connectorInstanceId: instance.id, externalId: record.externalId, ambiguous: found.length > 1 },
            update: { contactPhone: input.phone, ambiguous: found.length > 1 },
          });
        }
      } catch (error) {
        throw toActivityFailure(error);
      }

      const result = reconcile(records, projectRules);
      const allFields = [...new Set(records.flatMap((record) => Object.keys(record.values)).concat(coreFields))];
      const conflictFields = result.conflicts.map((conflict) => conflict.field);
      await journal.record(input.projectId, input.phone, result.conflicts, {
        settledFields: allFields.filter((field) => !conflictFields.includes(field)),
      });

      const writes: HubWrite[] = [];
      for (const [source, values] of Object.entries(result.writeBack)) {
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
      return { merged: result.merged, crmRecords, conflictFields, writes };
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
