// Bitrix24 CRM over its REST API through an inbound webhook
// (https://apidocs.bitrix24.com). Provider facts are data: the secret lives in the
// webhook URL; "slow down" is 503 QUERY_LIMIT_EXCEEDED (leaky bucket) or 429
// OPERATION_TIME_LIMIT; errors are `{ error, error_description }`; lists page by
// `start` in steps of 50; `batch` carries up to 50 calls as one request.
import { defineConnector } from '../sdk/define.js';
import { createActivityOperations } from './activities.js';
import { BitrixClient, maxBatchCalls } from './bitrix-client.js';
import { createChangeOperations } from './changes.js';
import { bitrix24ConfigSchema, declaredLimits } from './config.js';
import { createContactOperations } from './contacts.js';
import { bitrix24Webhook } from './webhook.js';

export { bitrix24ConfigSchema, type Bitrix24Config, type Bitrix24ConfigInput } from './config.js';
export { UpsertFailures } from './upsert-errors.js';

export const bitrix24 = defineConnector({
  id: 'bitrix24',
  title: 'Bitrix24 (REST, inbound webhook)',
  description: 'Contacts, call logs and deal stages in a Bitrix24 portal, with batching and its documented rate limit.',
  configSchema: bitrix24ConfigSchema,
  secrets: ['webhookUrl', 'applicationToken'],
  provider: {
    auth: { mode: 'url' },
    timeoutMs: 10_000,
    rateLimit: { throttleStatuses: [429], throttleErrorCodes: ['QUERY_LIMIT_EXCEEDED'] },
    errors: { codePath: 'error', messagePath: 'error_description' },
    pagination: { style: 'offset', param: 'start', pageSize: 50 },
    batch: { maxCalls: maxBatchCalls },
  },
  baseUrl: (config) => config.webhookUrl,
  limits: declaredLimits,
  create(context) {
    const client = new BitrixClient(context.http, context.config.webhookUrl);
    return {
      ...createContactOperations(client, context.cache, context.config),
      ...createActivityOperations(client, context.config),
      ...createChangeOperations(client, context.config),
      // The HTTP client holds no connections of its own and the limiter belongs to the instance.
      close: async () => undefined,
    };
  },
  webhook: bitrix24Webhook,
});
