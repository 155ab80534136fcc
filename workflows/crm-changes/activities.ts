// Activities of contact resolution: find which contact a changed CRM record
// belongs to (link table first, else the CRM itself), link it, and queue the
// change for that contact's journey.
import { ApplicationFailure, Context } from '@temporalio/activity';
import pLimit from 'p-limit';
import { sqlPoolOf, type Db } from '../../core/db/client.js';
import { normalizePhone } from '../../core/phone.js';
import { linkCrmRecord, linkCrmRecords, linkedPhone, linkedPhonesOf, recordKey, type CrmRecordRef } from '../../core/webhooks/contact-links.js';
import { markWebhookEventProcessed, markWebhookEventsProcessed, queueCrmChangeForJourney } from '../../core/webhooks/inbox.js';
import type { ConnectorRuntime } from '../../connectors/runtime.js';
import type { ProjectSettingsCache } from '../../core/connectors/project-settings.js';
import { toActivityFailure, whileHeartbeating } from '../journey/activities.js';
import { deliverCrmChangeToJourney } from '../journey/client.js';
import type { JourneyOptions } from '../journey/shared.js';
import type { BatchRouting, CrmChangeRouting, ResolveCrmContactInput, UnlinkedCrmChange } from './shared.js';
import { groupBy } from '../../core/collections.js';

/** Records of one batch resolved side by side; the connector's limiter paces their CRM requests. */
const RECORDS_IN_PARALLEL = 16;

export interface CrmChangeActivityDeps {
  db: Db;
  connectors: ConnectorRuntime;
  settings: ProjectSettingsCache;
}

type PhoneLookup = { phone: string } | { unroutable: string };

function recordOf({ projectId, change }: UnlinkedCrmChange): CrmRecordRef {
  return { projectId, connectorInstanceId: change.connectorInstanceId, externalId: change.externalId };
}

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

  /**
   * Finds the contact of one change and hands the change over: straight to the journey
   * (started if need be) when `journey` is given, else through the outbox (runs of
   * earlier builds). Safe to repeat: a second run finds the link and signals an event id
   * the journey already has. CRM failures throw as Temporal failures (see toActivityFailure).
   */
  async function routeOne({ projectId, webhookEventId, change }: UnlinkedCrmChange, journey: JourneyOptions | undefined): Promise<CrmChangeRouting> {
    const record: CrmRecordRef = { projectId, connectorInstanceId: change.connectorInstanceId, externalId: change.externalId };
    // Another event for the same record may have linked it since this one was stored.
    const known = await linkedPhone(sql, record);
    const lookup: PhoneLookup = known === undefined ? await phoneFromCrm(record) : { phone: known };
    if ('unroutable' in lookup) return { routed: false, reason: lookup.unroutable };
    if (journey) {
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
  }

  async function recordUnroutable(webhookEventId: string, reason: string): Promise<void> {
    await db.$executeRaw`
      UPDATE webhook_events
      SET processed_at = now(), payload = payload || jsonb_build_object('unroutable', ${reason}::text)
      WHERE id = ${webhookEventId}::uuid`;
  }

  /** A change's outcome when its record was looked up: its phone, or why it has none, or why to try again. */
  type RecordLookup = PhoneLookup | { retry: string; afterMs?: number };

  async function lookUpRecord(record: CrmRecordRef): Promise<RecordLookup> {
    try {
      return await phoneFromCrm(record);
    } catch (error) {
      const failure = toActivityFailure(error);
      // The CRM refused for good (a 4xx): no contact to give the change to, and why is kept.
      if (failure instanceof ApplicationFailure && failure.nonRetryable === true) return { unroutable: failure.message };
      const afterMs = failure instanceof ApplicationFailure && typeof failure.nextRetryDelay === 'number' ? failure.nextRetryDelay : undefined;
      return { retry: failure instanceof Error ? failure.message : String(failure), ...(afterMs !== undefined ? { afterMs } : {}) };
    }
  }

  async function routeBatch(changes: UnlinkedCrmChange[], journey: JourneyOptions): Promise<BatchRouting[]> {
    const byRecord = groupBy(changes, (item) => recordKey(recordOf(item)));
    // Another event for a record may have linked it since these were stored.
    const known = await linkedPhonesOf(sql, byRecord.map((group) => recordOf(group[0]!)));
    const limit = pLimit(RECORDS_IN_PARALLEL);
    const lookups = new Map<string, RecordLookup>();
    await Promise.all(byRecord.map((group) => limit(async () => {
      const record = recordOf(group[0]!);
      const phone = known.get(recordKey(record));
      lookups.set(recordKey(record), phone !== undefined ? { phone } : await lookUpRecord(record));
    })));
    const toLink = byRecord.flatMap((group) => {
      const record = recordOf(group[0]!);
      const lookup = lookups.get(recordKey(record));
      return lookup && 'phone' in lookup && !known.has(recordKey(record)) ? [{ record, phone: lookup.phone }] : [];
    });
    // An existing link wins over this lookup (see linkCrmRecords).
    const linked = await linkCrmRecords(sql, toLink);

    const results = new Map<string, BatchRouting>();
    await Promise.all(byRecord.map((group) => limit(async () => {
      const key = recordKey(recordOf(group[0]!));
      const lookup = lookups.get(key) as RecordLookup;
      for (const item of group) {
        const { webhookEventId } = item;
        if ('retry' in lookup) {
          results.set(webhookEventId, { webhookEventId, ...lookup });
        } else if ('unroutable' in lookup) {
          await recordUnroutable(webhookEventId, lookup.unroutable).then(
            () => results.set(webhookEventId, { webhookEventId, routed: false, reason: lookup.unroutable }),
            (error: unknown) => results.set(webhookEventId, { webhookEventId, retry: error instanceof Error ? error.message : String(error) }),
          );
        } else {
          const phone = linked.get(key) ?? lookup.phone;
          try {
            await deliverCrmChangeToJourney(Context.current().client, { projectId: item.projectId, phone, change: item.change }, journey);
            results.set(webhookEventId, { webhookEventId, routed: true, phone });
          } catch (error) {
            // Later changes of the record wait for this one: they go in order or not at all.
            const reason = error instanceof Error ? error.message : String(error);
            for (const rest of group.slice(group.indexOf(item))) results.set(rest.webhookEventId, { webhookEventId: rest.webhookEventId, retry: reason });
            return;
          }
        }
      }
    })));
    const routed = [...results.values()].filter((result) => 'routed' in result && result.routed).map((result) => result.webhookEventId);
    // Unmarked events are tried again: the journeys ignore an event id they already have.
    await markWebhookEventsProcessed(sql, routed).catch((error: unknown) => {
      const reason = `delivered, not marked processed: ${error instanceof Error ? error.message : String(error)}`;
      for (const webhookEventId of routed) results.set(webhookEventId, { webhookEventId, retry: reason });
    });
    return changes.map((item) => results.get(item.webhookEventId) ?? { webhookEventId: item.webhookEventId, retry: 'not attempted' });
  }

  return {
    /** One change (the resolveCrmContact workflow of earlier builds). */
    async routeCrmChangeToJourney({ journey, ...item }: ResolveCrmContactInput): Promise<CrmChangeRouting> {
      return whileHeartbeating(() => routeOne(item, journey));
    },

    /**
     * A batch of the resolver's changes. Each change ends routed, unroutable (recorded on
     * its stored event) or to be tried again with the reason; one change's CRM failure
     * never holds up the others. The batch's database work is one statement per step
     * (links read, new links written, events marked), not one per change; each record is
     * asked of the CRM once, records side by side, and changes of one record go to its
     * journey in order.
     */
    async routeCrmChangesToJourneys({ journey, changes }: { journey: JourneyOptions; changes: UnlinkedCrmChange[] }): Promise<BatchRouting[]> {
      return whileHeartbeating(() => routeBatch(changes, journey));
    },

    /** Keeps on the stored event why it reached no journey, for whoever looks at the inbox. */
    async recordUnroutableCrmChange({ webhookEventId, reason }: { webhookEventId: string; reason: string }): Promise<void> {
      await recordUnroutable(webhookEventId, reason);
    },
  };
}

export type CrmChangeActivities = ReturnType<typeof createCrmChangeActivities>;
