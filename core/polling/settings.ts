// Polling settings of a connector instance (CRMs that cannot call webhooks): how
// often to ask the CRM what changed, and whether to. They are the hub's, not the
// CRM's, so they sit beside the instance rather than inside each connector's
// configuration schema. Saving them queues the poller's start or stop in the same
// transaction (an outbox row), so a Temporal outage delays the poller, never loses it.
import { z } from 'zod';
import type { OutboxTx } from '../outbox/dispatcher.js';
import { crmPollerWorkflowId } from '../../workflows/crm-polling/shared.js';

export const pollingSettingsSchema = z
  .object({
    /** Seconds between polls once the CRM has nothing more to report. */
    intervalSeconds: z.number().int().min(1).max(86_400),
    /** false pauses polling and keeps the checkpoint: resuming reports what changed meanwhile. */
    enabled: z.boolean().default(true),
  })
  .strict();

export type PollingSettings = z.output<typeof pollingSettingsSchema>;

/** The settings and how polling goes, as the API shows them. */
export interface PollingView extends PollingSettings {
  lastPolledAt: string | null;
  lastError: string | null;
}

export function pollingView(poller: { intervalSeconds: number; enabled: boolean; lastPolledAt: Date | null; lastError: string | null } | null): PollingView | null {
  if (!poller) return null;
  return { intervalSeconds: poller.intervalSeconds, enabled: poller.enabled, lastPolledAt: poller.lastPolledAt?.toISOString() ?? null, lastError: poller.lastError };
}

/** Outbox rows that start (settings) or stop (null) an instance's poller workflow. */
export const CRM_POLLER_OUTBOX_KIND = 'crm-poller.sync';

export const crmPollerSyncPayloadSchema = z.object({
  projectId: z.uuid(),
  connectorInstanceId: z.uuid(),
  /** The poller to run, or null: none. */
  run: z.object({ intervalSeconds: z.number().int().positive() }).nullable(),
});
export type CrmPollerSyncPayload = z.infer<typeof crmPollerSyncPayloadSchema>;

export interface PolledInstanceRef {
  projectId: string;
  connectorInstanceId: string;
}

/**
 * Applies a create/patch's `polling` in the caller's transaction: undefined leaves it
 * as it is, null removes polling with its checkpoint, settings create or change it.
 */
export async function savePollingSettings(tx: OutboxTx, ref: PolledInstanceRef, settings: PollingSettings | null | undefined): Promise<void> {
  if (settings === undefined) return;
  if (settings === null) {
    const removed = await tx.connectorPoller.deleteMany({ where: { connectorInstanceId: ref.connectorInstanceId } });
    if (removed.count > 0) await queuePollerSync(tx, { ...ref, run: null });
    return;
  }
  await tx.connectorPoller.upsert({
    where: { connectorInstanceId: ref.connectorInstanceId },
    create: { connectorInstanceId: ref.connectorInstanceId, projectId: ref.projectId, intervalSeconds: settings.intervalSeconds, enabled: settings.enabled },
    update: { intervalSeconds: settings.intervalSeconds, enabled: settings.enabled },
  });
  await queuePollerSync(tx, { ...ref, run: settings.enabled ? { intervalSeconds: settings.intervalSeconds } : null });
}

/** Before an instance is deleted (its poller row goes with it): stop its poller. */
export async function stopPollingOf(tx: OutboxTx, ref: PolledInstanceRef): Promise<void> {
  const poller = await tx.connectorPoller.findUnique({ where: { connectorInstanceId: ref.connectorInstanceId }, select: { enabled: true } });
  if (poller) await queuePollerSync(tx, { ...ref, run: null });
}

async function queuePollerSync(tx: OutboxTx, payload: CrmPollerSyncPayload): Promise<void> {
  // Addressed to the poller's workflow id, so starts and stops reach Temporal in the order they were saved.
  await tx.outboxEntry.create({
    data: { projectId: payload.projectId, kind: CRM_POLLER_OUTBOX_KIND, workflowId: crmPollerWorkflowId(payload.connectorInstanceId), payload },
  });
}
