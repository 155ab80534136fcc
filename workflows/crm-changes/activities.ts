// Activities of contact resolution: find which contact a changed CRM record
// belongs to (link table first, else the CRM itself), link it, and queue the
// change for that contact's journey.
import { ApplicationFailure, Context } from '@temporalio/activity';
import pLimit from 'p-limit';
import { sqlPoolOf, type Db } from '../../core/db/client.js';
import { normalizePhone } from '../../core/phone.js';
import { linkCrmRecord, linkedPhone, type CrmRecordRef } from '../../core/webhooks/contact-links.js';
import { markWebhookEventProcessed, queueCrmChangeForJourney } from '../../core/webhooks/inbox.js';
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

  async function routeOrDefer(item: UnlinkedCrmChange, journey: JourneyOptions): Promise<BatchRouting> {
    const { webhookEventId } = item;
    try {
      const routing = await routeOne(item, journey);
      if (!routing.routed) await recordUnroutable(webhookEventId, routing.reason);
      return { webhookEventId, ...routing };
    } catch (error) {
      const failure = toActivityFailure(error);
      if (failure instanceof ApplicationFailure && failure.nonRetryable === true) {
        // The CRM refused for good (a 4xx): no contact to give the change to, and why is kept.
        await recordUnroutable(webhookEventId, failure.message).catch(() => undefined);
        return { webhookEventId, routed: false, reason: failure.message };
      }
      const message = failure instanceof Error ? failure.message : String(failure);
      const afterMs = failure instanceof ApplicationFailure && typeof failure.nextRetryDelay === 'number' ? failure.nextRetryDelay : undefined;
      return { webhookEventId, retry: message, ...(afterMs !== undefined ? { afterMs } : {}) };
    }
  }

  return {
    /** One change (the resolveCrmContact workflow of earlier builds). */
    async routeCrmChangeToJourney({ journey, ...item }: ResolveCrmContactInput): Promise<CrmChangeRouting> {
      return whileHeartbeating(() => routeOne(item, journey));
    },

    /**
     * A batch of the resolver's changes. Each change ends routed, unroutable (recorded on
     * its stored event) or to be tried again with the reason; one change's CRM failure
     * never holds up the others. Changes of one record go in order, so the first links
     * the record and the next finds the link; records go side by side.
     */
    async routeCrmChangesToJourneys({ journey, changes }: { journey: JourneyOptions; changes: UnlinkedCrmChange[] }): Promise<BatchRouting[]> {
      return whileHeartbeating(async () => {
        const results = new Map<string, BatchRouting>();
        const limit = pLimit(RECORDS_IN_PARALLEL);
        await Promise.all(
          groupBy(changes, (item) => `${item.projectId}/${item.change.externalId}`).map((group) =>
            limit(async () => {
              for (const item of group) results.set(item.webhookEventId, await routeOrDefer(item, journey));
            }),
          ),
        );
        return changes.map((item) => results.get(item.webhookEventId) ?? { webhookEventId: item.webhookEventId, retry: 'not attempted' });
      });
    },

    /** Keeps on the stored event why it reached no journey, for whoever looks at the inbox. */
    async recordUnroutableCrmChange({ webhookEventId, reason }: { webhookEventId: string; reason: string }): Promise<void> {
      await recordUnroutable(webhookEventId, reason);
    },
  };
}

export type CrmChangeActivities = ReturnType<typeof createCrmChangeActivities>;
