// The Bitrix24 side of the hub's connector contract (connectors/testkit): the
// connector on a sandbox portal, and ways to seed, refuse and break it. Run it with
// `runConnectorContract('bitrix24', makeBitrix24Harness)` in contract.test.ts.
import { randomInt } from 'node:crypto';
import type { ContractHarness } from '../testkit/contract.js';
import type { Bitrix24Config } from './connector.js';
import { bitrix24, bitrix24ConfigSchema } from './connector.js';
import { startBitrixSandbox } from './sandbox/index.js';
import { makeOperations, startWebhookCapture } from './test-support.js';

export async function makeBitrix24Harness(): Promise<ContractHarness<Bitrix24Config>> {
  // The kit paces requests itself; the portal's own limit is exercised in sandbox.test.ts.
  const sandbox = await startBitrixSandbox({ ratePerSecond: 1000, burst: 10_000 });
  const capture = await startWebhookCapture();
  const config = { webhookUrl: sandbox.webhookBase, applicationToken: sandbox.applicationToken, fieldMap: { applicationNumber: 'UF_CRM_APPLICATION_NUMBER' } };
  const used = new Set<string>();
  const freshSubscriber = () => {
    let subscriber: string;
    do subscriber = String(randomInt(0, 10_000_000)).padStart(7, '0');
    while (used.has(subscriber));
    used.add(subscriber);
    return subscriber;
  };

  await sandbox.emitContactEvent(capture.url, 'ONCRMCONTACTUPDATE', 1);
  const signed = capture.received[0];
  if (!signed) throw new Error('the sandbox event did not arrive');
  const webhook = bitrix24.webhook;
  if (!webhook) throw new Error('bitrix24 declares a webhook handler');

  return {
    connect: async (limiter) => makeOperations(config, limiter),
    freshPhone: () => `+7912${freshSubscriber()}`,
    async seedContactWithFormattedPhone() {
      const subscriber = freshSubscriber();
      const formatted = `8 (912) ${subscriber.slice(0, 3)}-${subscriber.slice(3, 5)}-${subscriber.slice(5)}`;
      sandbox.seed('contact', { NAME: 'Seeded', PHONE: [{ VALUE: formatted, VALUE_TYPE: 'MOBILE' }] });
      return `+7912${subscriber}`;
    },
    provokeRejection: (crm) => crm.upsertContact({ phone: `+7912${freshSubscriber()}`, email: 'not-an-address', fields: {} }),
    async provokeOutage(limiter) {
      sandbox.setFailMode('down');
      try {
        return await makeOperations(config, limiter).findContacts({ phone: `+7912${freshSubscriber()}` });
      } finally {
        sandbox.setFailMode(undefined);
      }
    },
    webhook: {
      handler: webhook,
      config: bitrix24ConfigSchema.parse(config),
      signed,
      forged: { ...signed, rawBody: signed.rawBody.replace(/auth%5Bapplication_token%5D=[^&]*/, 'auth%5Bapplication_token%5D=forged') },
    },
    async teardown() {
      await capture.close();
      await sandbox.close();
    },
  };
}
