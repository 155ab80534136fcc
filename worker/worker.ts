// Builds the Temporal worker: every workflow in workflows/index.ts and every
// activity, with their dependencies (database, connectors) injected.
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import type { Db } from '../core/db/client.js';
import type { ConnectorRuntime } from '../connectors/runtime.js';
import { ProjectSettingsCache } from '../core/connectors/project-settings.js';
import { createJourneyActivities } from '../workflows/journey/activities.js';
import { createReconcileActivities } from '../workflows/journey/reconcile-activities.js';
import { createCrmChangeActivities } from '../workflows/crm-changes/activities.js';
import { createCrmPollingActivities } from '../workflows/crm-polling/activities.js';
import { createCampaignActivities } from '../workflows/campaigns/activities.js';
import { createCallbackActivities } from '../workflows/callbacks/activities.js';

export interface HubWorkerDeps {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  db: Db;
  connectors: ConnectorRuntime;
  /**
   * Project settings cache shared by the activities; it should be listening for
   * change notifications (ProjectSettingsCache.listen). Without one, activities
   * read the settings on every call.
   */
  settings?: ProjectSettingsCache;
  /** Prebuilt workflow bundle (tests reuse one across workers). */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

let runtimeInstalled = false;

/** The SDK's own logging (worker state, retries); must run before the first worker is created. */
export function installWorkerRuntime(level: LogLevel): void {
  if (runtimeInstalled) return;
  Runtime.install({ logger: new DefaultLogger(level) });
  runtimeInstalled = true;
}

export function createActivities(deps: Pick<HubWorkerDeps, 'db' | 'connectors' | 'settings'>) {
  const withSettings = { ...deps, settings: deps.settings ?? new ProjectSettingsCache(deps.db, { ttlMs: 0 }) };
  return { ...createJourneyActivities(withSettings), ...createCrmChangeActivities(withSettings), ...createReconcileActivities(withSettings), ...createCrmPollingActivities(withSettings), ...createCampaignActivities(deps), ...createCallbackActivities(deps) };
}

export async function createHubWorker(deps: HubWorkerDeps): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: deps.temporalAddress });
  const worker = await Worker.create({
    connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath }),
    activities: createActivities(deps),
  });
  return { worker, connection };
}
