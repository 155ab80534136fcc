// The telephony process (`npm run telephony`; `npm start` spawns it beside the worker and the API):
// SIP call control (drachtio-srf against DRACHTIO_HOST, or the drachtio-server stand-in in this
// process), rtpengine media for IVRs, one call center per project from the stored configuration
// (reloaded on change), inbound calls routed by dialled number with their events and CDRs, and a
// Temporal worker with the telephony activities on `telephony-<instance>` and the shared
// TELEPHONY_TASK_QUEUE. Needs DATABASE_URL, TEMPORAL_ADDRESS and CONNECTOR_SECRET_KEY.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig, requireSetting } from '../core/config.js';
import { createDb } from '../core/db/client.js';
import { createLogger } from '../core/logger.js';
import { OutboxDispatcher } from '../core/outbox/dispatcher.js';
import { SecretBox } from '../core/secrets/secret-box.js';
import { TemporalGateway } from '../core/temporal/gateway.js';
import { repoRoot } from '../prisma/tooling/paths.js';
import { installWorkerRuntime } from '../worker/worker.js';
import { crmPollerDeliverers } from '../workflows/crm-polling/client.js';
import { journeyDeliverers } from '../workflows/journey/outbox.js';
import { defaultRegistry } from '../connectors/registry.js';
import { ConnectorRuntime } from '../connectors/runtime.js';
import { ScreenPopService } from '../core/screenpop/service.js';
import { createTelephonyActivities } from './activities.js';
import { createAgentFigureActivities, runtimeAgentFigureSource } from './dialer/agent-figures.js';
import { callbackDeliverers } from '../workflows/callbacks/client.js';
import { campaignDeliverers } from '../workflows/campaigns/client.js';
import { saveCallDetailRecords } from './cdr/store.js';
import { callEventDeliverers, enqueueCallEvent } from './runtime/call-events.js';
import { listenForTelephonyConfigChanges } from './runtime/config-changes.js';
import { ContactLookup } from './runtime/contact-lookup.js';
import { controlApp, startControlServer } from './runtime/control-server.js';
import { startTelephonyMedia } from './runtime/media.js';
import { loadTelephonyConfigs } from './runtime/project-config.js';
import { withRetries } from './runtime/retry.js';
import { HOLD_SDP, TelephonyRuntime } from './runtime/runtime.js';
import { startCallControl } from './sip/start.js';
import { TrunkStore } from './trunks/store.js';
import { TrunkStatusStore } from './trunks/status-store.js';
import { AgentAccountStore } from './registration/agent-accounts.js';
import { registrarOptionsFrom } from './registration/agent-registrar.js';
import { CallbackStore, scheduleIvrCallback } from './callbacks/callback-store.js';
import { AgentStatusLog } from './acd/status-log.js';

const config = loadConfig();
const logger = createLogger('telephony', config.LOG_LEVEL);
const databaseUrl = requireSetting(config, 'DATABASE_URL');
const temporalAddress = requireSetting(config, 'TEMPORAL_ADDRESS');
const db = createDb(databaseUrl, { poolSize: 5 });
const secretBox = new SecretBox(requireSetting(config, 'CONNECTOR_SECRET_KEY'));
const trunkStore = new TrunkStore(db, secretBox);
const agentAccounts = new AgentAccountStore(db, secretBox);
const trunkStatus = new TrunkStatusStore(db, logger);
// Activity-only workers: the SDK's WARN about having no workflows is expected here.
installWorkerRuntime(config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? 'DEBUG' : 'ERROR');

const stops: { name: string; stop: () => Promise<unknown> }[] = [];
let stopping = false;

// Call events reach journeys through the outbox; this process delivers its own rows at once and
// shares the table with the API's dispatcher (rows are claimed with SKIP LOCKED).
const journey = { taskQueue: config.TEMPORAL_TASK_QUEUE, idleTimeoutMs: config.JOURNEY_IDLE_SECONDS * 1000 };
const temporal = new TemporalGateway(temporalAddress, config.TEMPORAL_NAMESPACE);
const dispatcher = new OutboxDispatcher({
  db, temporal, logger, pollMs: config.OUTBOX_POLL_MS,
  deliverers: {
    ...journeyDeliverers(journey), ...crmPollerDeliverers({ taskQueue: config.TEMPORAL_TASK_QUEUE }), ...callEventDeliverers(journey),
    // The outbox is shared: rows of every kind may be claimed here.
    ...callbackDeliverers({ taskQueue: config.TEMPORAL_TASK_QUEUE, telephonyTaskQueue: config.TELEPHONY_TASK_QUEUE }),
    ...campaignDeliverers({ taskQueue: config.TEMPORAL_TASK_QUEUE, telephonyTaskQueue: config.TELEPHONY_TASK_QUEUE, journey }),
  },
});
dispatcher.start();
stops.push({ name: 'outbox dispatcher', stop: async () => { await dispatcher.stop(); await temporal.close(); } });

const sendEvent = async (projectId: string, phone: string, event: Parameters<typeof enqueueCallEvent>[3]) => {
  await withRetries(() => enqueueCallEvent(db, projectId, phone, event), { attempts: 8, firstDelayMs: 250 });
  dispatcher.wake();
};
const saveCdrs = async (projectId: string, records: Parameters<typeof saveCallDetailRecords>[2]) => {
  await withRetries(() => saveCallDetailRecords(db, projectId, [...records]), { attempts: 8, firstDelayMs: 250 });
};

const sip = await startCallControl(config, logger);
stops.push({ name: 'call control', stop: () => sip.stop() });
const media = await startTelephonyMedia(config, logger, join(resolve(repoRoot, config.DATA_DIR), 'rtpengine.log'));
stops.push({ name: 'media', stop: () => media.stop() });
if (!media.available) logger.warn({ reason: media.reason }, 'telephony: no IVR media; numbers routed to an IVR are refused with 503, queue numbers work');

// The caller's card from the project's CRMs (screen pop: merged, with a deadline and a short
// cache): the IVR's CRM branches and the queued caller's responsible agent.
const connectors = new ConnectorRuntime({ registry: defaultRegistry(), secretBox, redisUrl: config.REDIS_URL });
stops.push({ name: 'CRM connectors', stop: () => connectors.closeAll() });
const contacts = new ContactLookup({
  cards: new ScreenPopService({ db, runtime: connectors, logger }),
  preferredAgentDeadlineMs: config.INBOUND_LOOKUP_DEADLINE_MS,
  logger,
});

// Callbacks IVR callers ask for, stored with their outbox row like the API's (the dispatcher above starts them).
const callbacks = new CallbackStore(db, { onQueued: () => dispatcher.wake() });

// Agents' state changes, kept for their work statistics.
const statusLog = new AgentStatusLog(db, logger);

const runtime = new TelephonyRuntime({
  callControl: sip.callControl,
  media: media.available ? { control: media.control, promptPath: media.promptPath, description: media.description } : undefined,
  ...(media.available ? {} : { mediaUnavailable: media.reason }),
  contacts,
  holdSdp: HOLD_SDP,
  loadConfigs: () => loadTelephonyConfigs(db, trunkStore, logger),
  sendEvent,
  saveCdrs,
  logger,
  // Agents' phones REGISTER here; registration trunks REGISTER with their carriers; trunk health reaches the API.
  registration: {
    registrations: sip.callControl,
    accountsFor: (projectId) => agentAccounts.forProject(projectId),
    projectsWithUsername: async (username) =>
      (await db.agentSipAccount.findMany({ where: { username }, select: { projectId: true }, distinct: ['projectId'] })).map((row) => row.projectId),
    options: registrarOptionsFrom(config),
  },
  publishTrunkStatus: (projectId, health) => trunkStatus.publish(projectId, health),
  scheduleCallback: (projectId, request) => scheduleIvrCallback(callbacks, projectId, request),
  statusLog,
});
// Stopped in reverse: the call centers close first, then their last state changes are written.
stops.push({ name: 'agent status log', stop: () => statusLog.settled() });
stops.push({ name: 'call centers', stop: () => runtime.close() });
const reload = () => void runtime.reload().catch((error: unknown) => logger.error({ err: error }, 'telephony: configuration could not be loaded; keeping the running one'));
await runtime.reload();
const stopListening = listenForTelephonyConfigChanges(databaseUrl, reload, logger);
const poll = setInterval(reload, config.TELEPHONY_CONFIG_POLL_MS);
/** Stopped first on shutdown (and again among the stops, which does nothing more): no reload is wanted then. */
const stopConfigurationListener = () => {
  clearInterval(poll);
  return stopListening();
};
stops.push({ name: 'configuration listener', stop: stopConfigurationListener });

const control = await startControlServer(controlApp(runtime, { sip: sip.callControl.sipAddress }), config.TELEPHONY_CONTROL_HOST, config.TELEPHONY_CONTROL_PORT);
stops.push({ name: 'control endpoint', stop: () => control.close() });

// Activities on live calls must run here (their SIP dialogs are in this process): `telephony-<instance>`.
// placeCall may run on any telephony process: the shared queue.
const instanceQueue = `telephony-${config.TELEPHONY_INSTANCE_ID ?? `${hostname()}-${process.pid}`}`;
const activities = {
  ...createTelephonyActivities({
    callCenterFor: (projectId) => runtime.centerFor(projectId),
    signalJourney: sendEvent,
    saveCdrs,
    taskQueue: instanceQueue,
    offerSdp: HOLD_SDP,
    // placeCall({ media: true }) and playAndCollect use the same rtpengine and prompts as the IVRs.
    ...(media.available ? { media: { control: media.control, promptPath: media.promptPath } } : { mediaUnavailable: media.reason }),
    logger,
  }),
  // The live agent figures campaigns and callbacks pace by.
  ...createAgentFigureActivities(runtimeAgentFigureSource(runtime)),
};
const workers = runWorkers([config.TELEPHONY_TASK_QUEUE, instanceQueue]);

logger.info(
  { ...runtime.describe(), sip: `${sip.callControl.sipAddress.address}:${sip.callControl.sipAddress.port}`, drachtio: config.DRACHTIO_HOST ? `${config.DRACHTIO_HOST}:${config.DRACHTIO_PORT}` : 'stand-in in process',
    control: `http://${config.TELEPHONY_CONTROL_HOST}:${control.port}`, taskQueues: [config.TELEPHONY_TASK_QUEUE, instanceQueue] },
  'telephony ready',
);

/** Polls the task queues; while Temporal is unreachable, SIP keeps working and the worker retries. */
function runWorkers(taskQueues: string[]): { stop(): Promise<void> } {
  let current: { connection: NativeConnection; workers: Worker[] } | undefined;
  let running: Promise<void> = Promise.resolve();
  let retry: NodeJS.Timeout | undefined;
  const start = async (): Promise<void> => {
    try {
      const connection = await NativeConnection.connect({ address: temporalAddress });
      const started = await Promise.all(taskQueues.map((taskQueue) => Worker.create({ connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue, activities })));
      current = { connection, workers: started };
      logger.info({ taskQueues }, 'telephony: worker polling');
      running = Promise.all(started.map((worker) => worker.run())).then(() => undefined);
      await running;
    } catch (error) {
      if (stopping) return;
      logger.warn({ err: error }, 'telephony: Temporal worker not running, retrying in 5 s');
      retry = setTimeout(() => void start(), 5_000);
    }
  };
  void start();
  return {
    async stop() {
      if (retry) clearTimeout(retry);
      for (const worker of current?.workers ?? []) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      }
      await running.catch(() => undefined);
      await current?.connection.close();
    },
  };
}

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'telephony stopping');
  // `npm start`'s Ctrl-C reaches the embedded PostgreSQL too, which drops its connections at once.
  void stopConfigurationListener().catch(() => undefined);
  await workers.stop();
  for (const { name, stop } of stops.reverse()) {
    try {
      await stop();
    } catch (error) {
      logger.warn({ err: error }, `telephony: could not stop ${name} cleanly`);
    }
  }
  await db.$disconnect();
  logger.info('telephony stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
