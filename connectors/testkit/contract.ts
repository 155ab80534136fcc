// The contract every connector passes: `npm run connector:test <name>` runs the
// connector's contract.test.ts, which calls runConnectorContract with a way to
// build the connector against a real CRM (or its sandbox) and to provoke faults.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrmError } from '../sdk/errors.js';
import type { RequestLimiter } from '../sdk/limits/types.js';
import type { ConnectorOperations, WebhookHandler, WebhookRequest } from '../sdk/types.js';
import { RecordingLimiter } from './recording-limiter.js';

export interface ContractHarness<Config = unknown> {
  /** Builds the connector on a live CRM with the given limiter (the kit records what passes through it). */
  connect(limiter: RequestLimiter): Promise<ConnectorOperations>;
  /** A fresh E.164 number the CRM has never seen. */
  freshPhone(): string;
  /**
   * Stores a contact the way the CRM's own users do (national format, spaces,
   * brackets) and returns the E.164 number it stands for; lookups must find it.
   */
  seedContactWithFormattedPhone?(): Promise<string>;
  /** Runs an operation the CRM refuses (invalid field...): must throw CrmError 'rejected'. */
  provokeRejection(crm: ConnectorOperations): Promise<unknown>;
  /** Runs an operation while the CRM is down or failing: must throw CrmError 'unavailable'. */
  provokeOutage(limiter: RequestLimiter): Promise<unknown>;
  webhook?: {
    handler: WebhookHandler<Config>;
    config: Config;
    signed: WebhookRequest;
    forged: WebhookRequest;
  };
  teardown?(): Promise<void>;
}

export function runConnectorContract<Config>(name: string, makeHarness: () => Promise<ContractHarness<Config>>): void {
  describe(`connector contract: ${name}`, () => {
    let harness: ContractHarness<Config>;
    let limiter: RecordingLimiter;
    let crm: ConnectorOperations;

    beforeAll(async () => {
      harness = await makeHarness();
      limiter = new RecordingLimiter({ perSecond: 20 });
      crm = await harness.connect(limiter);
    });
    afterAll(async () => {
      await crm?.close();
      await harness?.teardown?.();
    });

    it('upserts idempotently: the same contact twice is one record', async () => {
      const phone = harness.freshPhone();
      const contact = { phone, name: 'Contract Test', email: `c-${randomUUID().slice(0, 8)}@example.com`, fields: { applicationNumber: 'CT-1' } };
      const first = await crm.upsertContact(contact);
      const second = await crm.upsertContact({ ...contact, name: 'Contract Test Renamed' });
      expect(first.created).toBe(true);
      expect(second.created).toBe(false);
      expect(second.externalId).toBe(first.externalId);
      const found = await crm.findContacts({ phone });
      expect(found.map((record) => record.externalId)).toEqual([first.externalId]);
      expect(found[0]?.name).toBe('Contract Test Renamed');
      expect((await crm.getContact(first.externalId))?.externalId).toBe(first.externalId);
    });

    it('finds a contact by its normalized phone whatever format the CRM stored', async () => {
      if (!harness.seedContactWithFormattedPhone) {
        const phone = harness.freshPhone();
        const { externalId } = await crm.upsertContact({ phone, fields: {} });
        expect((await crm.findContacts({ phone })).map((record) => record.externalId)).toContain(externalId);
        return;
      }
      const phone = await harness.seedContactWithFormattedPhone();
      const found = await crm.findContacts({ phone });
      expect(found).toHaveLength(1);
    });

    it('sends every request through the limiter and obeys it', async () => {
      const before = limiter.started.length;
      const phones = Array.from({ length: 12 }, () => harness.freshPhone());
      await Promise.all(phones.map((phone) => crm.upsertContact({ phone, fields: {} })));
      const starts = limiter.started.slice(before);
      expect(starts.length).toBeGreaterThanOrEqual(phones.length > 0 ? 1 : 0);
      expect(limiter.maxInAnyWindow(1000)).toBeLessThanOrEqual(limiter.perSecond);
      // Every contact landed although the limiter held requests back.
      for (const phone of phones) expect(await crm.findContacts({ phone })).toHaveLength(1);
    });

    it('maps a refusal to a non-retryable error with the CRM\'s words', async () => {
      const error = await harness.provokeRejection(crm).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(CrmError);
      expect((error as CrmError).kind).toBe('rejected');
      expect((error as CrmError).message.length).toBeGreaterThan(10);
    });

    it('maps an outage to a retryable error', async () => {
      const error = await harness.provokeOutage(new RecordingLimiter({ perSecond: 50 })).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(CrmError);
      expect((error as CrmError).kind).toBe('unavailable');
    });

    it('verifies webhook signatures and parses events', () => {
      const webhook = harness.webhook;
      if (!webhook) {
        // Connectors without webhooks are polled; nothing to verify.
        expect(harness.webhook).toBeUndefined();
        return;
      }
      expect(webhook.handler.verify(webhook.signed, webhook.config)).toBe(true);
      expect(webhook.handler.verify(webhook.forged, webhook.config)).toBe(false);
      const events = webhook.handler.parse(webhook.signed, webhook.config);
      expect(events.length).toBeGreaterThan(0);
      expect(events[0]?.eventId).toBeTruthy();
      expect(webhook.handler.parse(webhook.signed, webhook.config)[0]?.eventId).toBe(events[0]?.eventId);
    });
  });
}
