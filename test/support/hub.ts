// A whole hub for one suite, on the run's shared servers: its own database
// (cloned from the migrated template), its own demo CRM database, a project with
// an API key and a primary CRM, a real Temporal worker on its own task queue,
// the API app (called in-process) and the outbox dispatcher.
import { randomUUID } from 'node:crypto';
import type { Worker } from '@temporalio/worker';
import pg from 'pg';
import { inject } from 'vitest';
import { createApp } from '../../api/app.js';
import { defaultRegistry } from '../../connectors/registry.js';
import { ConnectorRuntime } from '../../connectors/runtime.js';
import { ConnectorInstances } from '../../core/connectors/instances.js';
import { ProjectSettingsCache } from '../../core/connectors/project-settings.js';
import { SecretBox } from '../../core/secrets/secret-box.js';
import { ensureDemoCrm } from '../../connectors/sql-crm/demo/crm.js';
import { runAdminSql } from '../../core/db/admin.js';
import { createDb, type Db } from '../../core/db/client.js';
import { createLogger } from '../../core/logger.js';
import { OutboxDispatcher } from '../../core/outbox/dispatcher.js';
import { createProject } from '../../core/projects/projects.js';
import { TemporalGateway } from '../../core/temporal/gateway.js';
import { journeyDeliverers } from '../../workflows/journey/outbox.js';
import { crmPollerDeliverers } from '../../workflows/crm-polling/client.js';
import { campaignDeliverers } from '../../workflows/campaigns/client.js';
import { callbackDeliverers } from '../../workflows/callbacks/client.js';
import type { CallbackOptions } from '../../workflows/callbacks/shared.js';
import type { CampaignDialerOptions } from '../../workflows/campaigns/shared.js';
import { createHubWorker, installWorkerRuntime } from '../../worker/worker.js';
import { CallFlowStore } from '../../telephony/ivr/call-flow-store.js';
import { AgentAccountStore } from '../../telephony/registration/agent-accounts.js';
import { TrunkStatusStore } from '../../telephony/trunks/status-store.js';
import { TrunkStore } from '../../telephony/trunks/store.js';
import { InboundNumberStore } from '../../telephony/inbound/numbers.js';
import { callEventDeliverers } from '../../telephony/runtime/call-events.js';
import { TelephonyControlClient } from '../../telephony/runtime/control-client.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests check API bodies field by field
export type Json = Record<string, any>;

export interface ApiAnswer {
  status: number;
  type: string | null;
  body: Json;
}

export interface TestHub {
  db: Db;
  databaseUrl: string;
  crmUrl: string;
  projectId: string;
  apiKey: string;
  /** CONNECTOR_SECRET_KEY that sealed the hub's connector credentials (for worker processes). */
  secretKey: string;
  taskQueue: string;
  /** Where campaign and callback workflows look for telephony activities (agent figures, placeCall). */
  telephonyTaskQueue: string;
  temporal: TemporalGateway;
  dispatcher: OutboxDispatcher;
  app: ReturnType<typeof createApp>;
  /** Calls the API in-process with the project's key. */
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** `request` with a JSON body, answered with its status, content type and parsed body. */
  call(method: string, path: string, json?: unknown): Promise<ApiAnswer>;
  crmRows(): Promise<Record<string, unknown>[]>;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface TestHubOptions {
  temporalAddress?: string;
  idleTimeoutMs?: number;
  defaultRegion?: string;
  /** Start the worker now (default true). */
  worker?: boolean;
  pollMs?: number;
  /** Campaign dialer settings (tick, lease, ring timeout). */
  campaign?: Partial<Omit<CampaignDialerOptions, 'telephonyTaskQueue'>>;
  /** Callback settings (how often a due callback looks for its agent, ring timeout). */
  callback?: Partial<Omit<CallbackOptions, 'telephonyTaskQueue'>>;
  /** The telephony process's control endpoint, for /v1/agents (absent: the API has no such routes). */
  telephonyControlUrl?: string;
}

export function databaseUrl(database: string): string {
  const url = new URL(inject('postgresUrl'));
  url.pathname = `/${database}`;
  return url.toString();
}

function adminQuery(sql: string): Promise<void> {
  return runAdminSql(inject('postgresUrl'), sql);
}

/** A fresh hub database with every migration applied. */
export async function createHubDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `hub_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
  return { url: databaseUrl(name), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export async function startTestHub(options: TestHubOptions = {}): Promise<TestHub> {
  const logger = createLogger('test', 'warn');
  const hubDb = await createHubDatabase();
  const crmName = `crm_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const crmUrl = await ensureDemoCrm(inject('postgresUrl'), crmName);
  const db = createDb(hubDb.url);
  const { id: projectId, apiKey } = await createProject(db, {
    slug: `test-${randomUUID().slice(0, 8)}`,
    name: 'Test project',
    defaultRegion: options.defaultRegion ?? 'US',
  });
  const registry = defaultRegistry();
  const secretKey = SecretBox.generateKey();
  const secretBox = new SecretBox(secretKey);
  const instances = new ConnectorInstances(db, registry, secretBox);
  await instances.create(projectId, { kind: 'sql-crm', name: 'demo-crm', isPrimary: true, config: { connectionString: crmUrl } });

  const taskQueue = `test-${randomUUID()}`;
  const telephonyTaskQueue = `${taskQueue}-telephony`;
  const temporalAddress = options.temporalAddress ?? inject('temporalAddress');
  const temporal = new TemporalGateway(temporalAddress, 'default');
  const dispatcher = new OutboxDispatcher({
    db,
    temporal,
    logger,
    pollMs: options.pollMs ?? 200,
    deliverers: {
      ...journeyDeliverers({ taskQueue, idleTimeoutMs: options.idleTimeoutMs ?? 2000 }),
      ...crmPollerDeliverers({ taskQueue }),
      ...callEventDeliverers({ taskQueue, idleTimeoutMs: options.idleTimeoutMs ?? 2000 }),
      ...callbackDeliverers({ taskQueue, telephonyTaskQueue, ...options.callback }),
      ...campaignDeliverers({ taskQueue, telephonyTaskQueue, ...options.campaign, journey: { taskQueue, idleTimeoutMs: options.idleTimeoutMs ?? 2000 } }),
    },
  });
  const connectors = new ConnectorRuntime({ registry, secretBox });
  const app = createApp({
    connectors: { registry, runtime: connectors, instances },
    telephony: { trunks: new TrunkStore(db, secretBox), flows: new CallFlowStore(db), numbers: new InboundNumberStore(db), agents: new AgentAccountStore(db, secretBox), trunkStatus: new TrunkStatusStore(db) },
    db,
    temporal,
    logger,
    taskQueue,
    maxTasksPerRequest: 1000,
    onQueued: () => dispatcher.wake(),
    ...(options.telephonyControlUrl === undefined ? {} : { telephonyControl: new TelephonyControlClient(options.telephonyControlUrl) }),
  });
  dispatcher.start();

  let running: { worker: Worker; done: Promise<void>; close: () => Promise<void> } | undefined;

  const hub: TestHub = {
    db,
    databaseUrl: hubDb.url,
    crmUrl,
    projectId,
    apiKey,
    secretKey,
    taskQueue,
    telephonyTaskQueue,
    temporal,
    dispatcher,
    app,
    async request(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${apiKey}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(init.json);
      }
      return app.request(path, { ...init, headers, body });
    },
    async call(method, path, json) {
      const response = await this.request(path, { method, ...(json === undefined ? {} : { json }) });
      const text = await response.text();
      return { status: response.status, type: response.headers.get('content-type'), body: (text ? JSON.parse(text) : undefined) as Json };
    },
    async crmRows() {
      const client = new pg.Client({ connectionString: crmUrl });
      await client.connect();
      try {
        return (await client.query('SELECT * FROM clients ORDER BY id')).rows;
      } finally {
        await client.end();
      }
    },
    async startWorker() {
      if (running) return;
      installWorkerRuntime('WARN');
      // As in worker/main.ts: the activities' settings cache hears the API's changes.
      const settings = new ProjectSettingsCache(db);
      const stopListening = settings.listen(hubDb.url, logger);
      const { worker, connection } = await createHubWorker({
        temporalAddress,
        namespace: 'default',
        taskQueue,
        db,
        connectors,
        settings,
        workflowBundle: { codePath: inject('workflowBundlePath') },
      });
      const done = worker.run();
      running = { worker, done, close: async () => void (await Promise.all([connection.close(), stopListening()])) };
    },
    async stopWorker() {
      if (!running) return;
      const current = running;
      running = undefined;
      current.worker.shutdown();
      await current.done;
      await current.close();
    },
    async close() {
      await dispatcher.stop();
      await hub.stopWorker();
      await connectors.closeAll();
      await temporal.close();
      await db.$disconnect();
      await hubDb.drop();
      await adminQuery(`DROP DATABASE IF EXISTS ${crmName} WITH (FORCE)`);
    },
  };
  if (options.worker !== false) await hub.startWorker();
  return hub;
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
/** A client row in the hub's demo SQL CRM, as the CRM's own users would type it (`extra` holds its other fields). */
export async function seedDemoCrmContact(hub: Pick<TestHub, 'crmUrl'>, phone: string, name: string, extra: Record<string, unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: hub.crmUrl });
  await client.connect();
  try {
    await client.query('INSERT INTO clients (phone, full_name, email, extra) VALUES ($1, $2, $3, $4)', [phone, name, `${phone.slice(1)}@example.com`, extra]);
  } finally {
    await client.end();
  }
}

export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
