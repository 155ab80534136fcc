// The API process: HTTP server plus the outbox dispatcher that hands accepted
// work to Temporal. Needs DATABASE_URL and TEMPORAL_ADDRESS (npm start sets them).
import { serve } from '@hono/node-server';
import { loadConfig, publicUrl, requireSetting, telephonyControlUrl } from '../core/config.js';
import { createDb } from '../core/db/client.js';
import { createLogger } from '../core/logger.js';
import { OutboxDispatcher } from '../core/outbox/dispatcher.js';
import { TemporalGateway } from '../core/temporal/gateway.js';
import { journeyDeliverers } from '../workflows/journey/outbox.js';
import { crmPollerDeliverers } from '../workflows/crm-polling/client.js';
import { campaignDeliverers } from '../workflows/campaigns/client.js';
import { callbackDeliverers } from '../workflows/callbacks/client.js';
import { defaultRegistry } from '../connectors/registry.js';
import { ConnectorRuntime } from '../connectors/runtime.js';
import { ConnectorInstances } from '../core/connectors/instances.js';
import { SecretBox } from '../core/secrets/secret-box.js';
import { createApp } from './app.js';
import { answerClientErrors } from './client-errors.js';
import { CallFlowStore } from '../telephony/ivr/call-flow-store.js';
import { AgentAccountStore } from '../telephony/registration/agent-accounts.js';
import { TrunkStatusStore } from '../telephony/trunks/status-store.js';
import { TrunkStore } from '../telephony/trunks/store.js';
import { InboundNumberStore } from '../telephony/inbound/numbers.js';
import { callEventDeliverers } from '../telephony/runtime/call-events.js';
import { TelephonyControlClient } from '../telephony/runtime/control-client.js';

const config = loadConfig();
const logger = createLogger('api', config.LOG_LEVEL);
const db = createDb(requireSetting(config, 'DATABASE_URL'));
const temporal = new TemporalGateway(requireSetting(config, 'TEMPORAL_ADDRESS'), config.TEMPORAL_NAMESPACE);
const dispatcher = new OutboxDispatcher({
  db,
  temporal,
  logger,
  pollMs: config.OUTBOX_POLL_MS,
  deliverers: {
    ...journeyDeliverers({ taskQueue: config.TEMPORAL_TASK_QUEUE, idleTimeoutMs: config.JOURNEY_IDLE_SECONDS * 1000 }),
    ...crmPollerDeliverers({ taskQueue: config.TEMPORAL_TASK_QUEUE }),
    ...callEventDeliverers({ taskQueue: config.TEMPORAL_TASK_QUEUE, idleTimeoutMs: config.JOURNEY_IDLE_SECONDS * 1000 }),
    ...callbackDeliverers({ taskQueue: config.TEMPORAL_TASK_QUEUE, telephonyTaskQueue: config.TELEPHONY_TASK_QUEUE }),
    ...campaignDeliverers({ taskQueue: config.TEMPORAL_TASK_QUEUE, telephonyTaskQueue: config.TELEPHONY_TASK_QUEUE, journey: { taskQueue: config.TEMPORAL_TASK_QUEUE, idleTimeoutMs: config.JOURNEY_IDLE_SECONDS * 1000 } }),
  },
});
const registry = defaultRegistry();
const secretBox = new SecretBox(requireSetting(config, 'CONNECTOR_SECRET_KEY'));
const runtime = new ConnectorRuntime({ registry, secretBox, redisUrl: config.REDIS_URL });
const app = createApp({
  connectors: { registry, runtime, instances: new ConnectorInstances(db, registry, secretBox) },
  telephony: { trunks: new TrunkStore(db, secretBox), flows: new CallFlowStore(db), numbers: new InboundNumberStore(db), agents: new AgentAccountStore(db, secretBox), trunkStatus: new TrunkStatusStore(db) },
  telephonyControl: new TelephonyControlClient(telephonyControlUrl(config)),
  db,
  temporal,
  logger,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  maxTasksPerRequest: config.MAX_TASKS_PER_REQUEST,
  onQueued: () => dispatcher.wake(),
});

const server = serve({ fetch: app.fetch, hostname: config.API_HOST, port: config.API_PORT }, () => {
  logger.info({ url: publicUrl(config) }, 'API listening');
});
answerClientErrors(server);
dispatcher.start();

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'API stopping');
  server.close();
  await dispatcher.stop();
  await Promise.allSettled([temporal.close(), runtime.closeAll(), db.$disconnect()]);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
