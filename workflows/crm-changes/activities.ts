// Activities of contact resolution: find which contact a changed CRM record
// belongs to (link table first, else the CRM itself), link it, and queue the
// change for that contact's journey.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { sqlPoolOf, type Db } from '../../core/db/client.js';
import { normalizePhone } from '../../core/phone.js';
import { linkCrmRecord, linkedPhone, type CrmRecordRef } from '../../core/webhooks/contact-links.js';
import { markWebhookEventProcessed, queueCrmChangeForJourney } from '../../core/webhooks/inbox.js';
import type { ConnectorRuntime } from '../../connectors/runtime.js';
import type { ProjectSettingsCache } from '../../core/connectors/project-settings.js';
import { toActivityFailure, whileHeartbeating } from '../journey/activities.js';
import { deliverCrmChangeToJourney } from '../journey/client.js';
import type { CrmChangeRouting, ResolveCrmContactInput } from './shared.js';

export interface CrmChangeActivityDeps {
  db: Db;
  connectors: ConnectorRuntime;
  settings: ProjectSettingsCache;
}

type PhoneLookup = { phone: string } | { unroutable: string };

export function createCrmChangeActivities({ db, connectors, settings }: CrmChangeActivityDeps) {
  // The statements of a resolution run on the pool under Prisma (see core/db/sql.ts).
  const sql = sqlPoolOf(db);
  /** Asks the CRM for the record's phone. CRM outages throw retryable failures. */
  async function phoneFromCrm(record: CrmRecordRef): Promise<PhoneLookup> {
    const project = await settings.get(record.projectId);
    const instance = project.instances.find((candidate) => candidate.id === record.connectorInstanceId);
    if (!instance) return { unroutable: `connector instance ${record.connectorInstanceId} no longer exists` };
    // A connector that cannot start (bad stored config, missing key) is retried: fixing
    // the configuration lets the waiting changes through, none is lost.
    const crm = await connectors.get(instance).catch((error: unknown) => {
      throw ApplicationFailure.retryable(
        `connector "${instance.name}" cannot start: ${error instanceof Error ? error.message : String(error)}`,
        'ConnectorUnavailable',
      );
    });
    const contact = await crm.getContact(record.externalId).catch((error: unknown) => {
      throw toActivityFailure(error);
    });
    if (!contact) return { unroutable: `"${instance.name}" has no record ${record.externalId}` };
    if (!contact.phone) return { unroutable: `"${instance.name}" record ${record.externalId} has no phone` };
    const phone = normalizePhone(contact.phone, project.defaultRegion);
    if (!phone.ok) return { unroutable: `"${instance.name}" record ${record.externalId} has phone "${contact.phone}": ${phone.reason}` };
    return { phone: phone.e164 };
  }

  return {
    /**
     * Queues the change for its contact's journey. Safe to repeat: a second run
     * finds the link and queues the change again, which the journey ignores by event id.
     */
    async routeCrmChangeToJourney({ projectId, webhookEventId, change, journey }: ResolveCrmContactInput): Promise<CrmChangeRouting> {
      return whileHeartbeating(async () => {
        const record: CrmRecordRef = { projectId, connectorInstanceId: change.connectorInstanceId, externalId: change.externalId };
        // Another event for the same record may have linked it since this one was stored.
        const known = await linkedPhone(sql, record);
        const lookup: PhoneLookup = known === undefined ? await phoneFromCrm(record) : { phone: known };
        if ('unroutable' in lookup) return { routed: false, reason: lookup.unroutable };
        if (journey) {
          // Straight to the journey: no outbox row for the API's dispatcher to poll
          // for. A retry after a crash links nothing new and signals an event id the
          // journey already has, so each step is safe to repeat.
          const phone = known ?? (await linkCrmRecord(sql, record, lookup.phone));
          await deliverCrmChangeToJourney(Context.current().client, { projectId, phone, change }, journey);
          await markWebhookEventProcessed(sql, webhookEventId);
          return { routed: true, phone };
        }
        const phone = await db.$transaction(async (tx) => {
          const linked = await linkCrmRecord(tx, record, lookup.phone);
          await queueCrmChangeForJourney(tx, { projectId, phone: linked, webhookEventId, change });
          return linked;
        });
        return { routed: true, phone };
      });
    },

    /** Keeps on the stored event why it reached no journey, for whoever looks at the inbox. */
    async recordUnroutableCrmChange({ webhookEventId, reason }: { webhookEventId: string; reason: string }): Promise<void> {
      await db.$executeRaw`
        UPDATE webhook_events
        SET processed_at = now(), payload = payload || jsonb_build_object('unroutable', ${reason}::text)
        WHERE id = ${webhookEventId}::uuid`;
    },
  };
}

export type CrmChangeActivities = ReturnType<typeof createCrmChangeActivities>;
