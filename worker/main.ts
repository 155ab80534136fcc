// The worker process: runs contact journeys and their activities.
import { Client, Connection } from '@temporalio/client';
import { loadConfig, requireSetting } from '../core/config.js';
import { createDb } from '../core/db/client.js';
import { createLogger } from '../core/logger.js';
import { defaultRegistry } from '../connectors/registry.js';
import { ConnectorRuntime } from '../connectors/runtime.js';
import { SecretBox } from '../core/secrets/secret-box.js';
import { ProjectSettingsCache } from '../core/connectors/project-settings.js';
import { ensureSearchAttributes } from './search-attributes.js';
import { ensureCrmPollers } from '../workflows/crm-polling/client.js';
import { ensureCampaignDialers } from '../workflows/campaigns/client.js';
import { createHubWorker, installWorkerRuntime } from './worker.js';

const config = loadConfig();
const logger = createLogger('worker', config.LOG_LEVEL);
const temporalAddress = requireSetting(config, 'TEMPORAL_ADDRESS');
const databaseUrl = requireSetting(config, 'DATABASE_URL');
const db = createDb(databaseUrl);
const settings = new ProjectSettingsCache(db);
const stopListening = settings.listen(databaseUrl, logger);
// Stopped as soon as the worker is: `npm start`'s Ctrl-C also stops the embedded PostgreSQL, whose
// dropped connection is no loss to report, and draining work needs no invalidations (the TTL holds).
process.once('SIGINT', () => void stopListening().catch(() => undefined));
process.once('SIGTERM', () => void stopListening().catch(() => undefined));
const connectors = new ConnectorRuntime({
  registry: defaultRegistry(),
  secretBox: new SecretBox(requireSetting(config, 'CONNECTOR_SECRET_KEY')),
  redisUrl: config.REDIS_URL,
});
// The SDK's INFO lines (bundler output, state changes) drown the hub's own; show them when debugging.
installWorkerRuntime(config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? 'DEBUG' : 'WARN');

const admin = await Connection.connect({ address: temporalAddress });
await ensureSearchAttributes(admin, config.TEMPORAL_NAMESPACE);
// Pollers of CRMs without webhooks run whether or not their start ever reached Temporal.
await ensureCrmPollers({ db, client: new Client({ connection: admin, namespace: config.TEMPORAL_NAMESPACE }), taskQueue: config.TEMPORAL_TASK_QUEUE }).catch((error: unknown) =>
  logger.warn({ err: error }, 'worker: could not start the CRM pollers now; the next worker start or polling change starts them'),
);
// Active campaigns dial whether or not their resume ever reached Temporal.
await ensureCampaignDialers({
  db,
  client: new Client({ connection: admin, namespace: config.TEMPORAL_NAMESPACE }),
  options: { taskQueue: config.TEMPORAL_TASK_QUEUE, telephonyTaskQueue: config.TELEPHONY_TASK_QUEUE },
}).catch((error: unknown) => logger.warn({ err: error }, 'worker: could not start the campaign dialers now; the next worker start or resume starts them'));
await admin.close();

const { worker, connection } = await createHubWorker({
  temporalAddress,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  db,
  connectors,
  settings,
});
logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, temporal: temporalAddress }, 'worker polling');
// Worker.run resolves after SIGINT/SIGTERM (the SDK installs those handlers) once in-flight work is drained.
await worker.run();
await Promise.allSettled([stopListening(), connectors.closeAll(), db.$disconnect(), connection.close()]);
logger.info('worker stopped');
