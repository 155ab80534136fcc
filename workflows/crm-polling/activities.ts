// The poll: read pages of changes from the CRM from the stored cursor and store
// each page with its cursor in one transaction (core/polling/checkpoint.ts).
// An unreachable CRM throws a retryable failure before anything moves, so the
// workflow's retry policy paces it and the next attempt starts from the same cursor.
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { ConnectorRuntime } from '../../connectors/runtime.js';
import type { Db } from '../../core/db/client.js';
import { loadCheckpoint, recordPollFailure, storePolledPage, touchCheckpoint } from '../../core/polling/checkpoint.js';
import { toActivityFailure } from '../journey/activities.js';
import type { PollOutcome } from './shared.js';

export interface CrmPollingActivityDeps {
  db: Db;
  connectors: ConnectorRuntime;
}

/** Records per page; a CRM that pages by 50 (Bitrix24) returns fewer. */
const pageSize = 200;
/** Pages per activity call, so one call stays well inside its timeout; the workflow calls again at once. */
const pagesPerPoll = 10;

export function createCrmPollingActivities({ db, connectors }: CrmPollingActivityDeps) {
  return {
    async pollCrmChanges({ connectorInstanceId }: { connectorInstanceId: string }): Promise<PollOutcome> {
      const checkpoint = await loadCheckpoint(db, connectorInstanceId);
      if (!checkpoint) return { stop: 'polling was removed from the connector', more: false, changes: 0 };
      if (!checkpoint.enabled) return { stop: 'polling is disabled', more: false, changes: 0 };
      const instance = await db.connectorInstance.findUnique({ where: { id: connectorInstanceId } });
      if (!instance) return { stop: 'the connector was deleted', more: false, changes: 0 };
      // A connector that cannot start (bad stored config, missing key) is retried: fixing it resumes polling.
      const crm = await connectors.get(instance).catch(async (error: unknown) => {
        const reason = `connector "${instance.name}" cannot start: ${error instanceof Error ? error.message : String(error)}`;
        await recordPollFailure(db, connectorInstanceId, reason);
        throw ApplicationFailure.retryable(reason, 'ConnectorUnavailable');
      });
      if (!crm.listChangedContacts) {
        const reason = `connector "${instance.name}" (${instance.kind}) cannot list changes`;
        await recordPollFailure(db, connectorInstanceId, reason);
        return { stop: reason, more: false, changes: 0 };
      }

      let cursor = checkpoint.cursor;
      let changes = 0;
      for (let page = 0; page < pagesPerPoll; page += 1) {
        heartbeat(page);
        const read = await crm
          .listChangedContacts({ since: cursor, limit: pageSize, ...(cursor === null ? { startAt: checkpoint.startAt } : {}) })
          .catch(async (error: unknown) => {
            await recordPollFailure(db, connectorInstanceId, error instanceof Error ? error.message : String(error));
            throw toActivityFailure(error);
          });
        if (read.contacts.length === 0 && read.cursor === cursor) {
          await touchCheckpoint(db, connectorInstanceId);
          return { more: false, changes };
        }
        const stored = await storePolledPage(db, checkpoint, cursor, read);
        // Another attempt moved the checkpoint: the next round starts from where it is now.
        if (!stored.stored) return { more: false, changes };
        changes += stored.changes;
        cursor = read.cursor;
        if (!read.more) return { more: false, changes };
      }
      return { more: true, changes };
    },
  };
}

export type CrmPollingActivities = ReturnType<typeof createCrmPollingActivities>;
