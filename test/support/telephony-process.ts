// The telephony process (telephony/main.ts) started for a test the way `npm start` starts it: a child
// process on the test hub's database and Temporal, the drachtio-server stand-in and SIP on a free
// port, its control endpoint on another. One place for the start, the health wait and the control calls.
import { inject } from 'vitest';
import { findFreePort } from '../../embedded/ports.js';
import { findFreeUdpPort } from '../../embedded/rtpengine.js';
import type { TestHub } from './hub.js';
import { eventually } from './hub.js';
import { startServiceProcess, type WorkerProcess } from './worker-process.js';

export interface TelephonyProcess {
  process: WorkerProcess;
  sipPort: number;
  controlUrl: string;
  /** A call to the control endpoint (JSON body when `json` is given). */
  control(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** Waits until /healthz answers and `ready` accepts its body; fails at once if the process exits. */
  healthy<Health>(ready?: (health: Health) => boolean, timeoutMs?: number, what?: string): Promise<Health>;
}

export async function startTelephonyProcess(
  hub: TestHub,
  options: { dataDir: string; telephonyTaskQueue: string; env?: Record<string, string | undefined> },
): Promise<TelephonyProcess> {
  const sipPort = await findFreeUdpPort('127.0.0.1');
  const controlPort = await findFreePort();
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  const child = startServiceProcess('telephony/main.ts', {
    DATABASE_URL: hub.databaseUrl,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: hub.taskQueue,
    TELEPHONY_TASK_QUEUE: options.telephonyTaskQueue,
    CONNECTOR_SECRET_KEY: hub.secretKey,
    SIP_ADDRESS: '127.0.0.1',
    SIP_PORT: String(sipPort),
    TELEPHONY_CONTROL_PORT: String(controlPort),
    DATA_DIR: options.dataDir,
    DRACHTIO_HOST: undefined,
    LOG_LEVEL: 'warn',
    ...options.env,
  });
  let exited = false;
  void child.exited.then(() => (exited = true));
  const control = async (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    return fetch(`${controlUrl}${path}`, { ...rest, ...(json === undefined ? {} : { body: JSON.stringify(json), headers: { 'content-type': 'application/json' } }) });
  };
  return {
    process: child,
    sipPort,
    controlUrl,
    control,
    healthy: async <Health>(ready: (health: Health) => boolean = () => true, timeoutMs = 40_000, what = 'the telephony process to answer /healthz') =>
      eventually(async () => {
        if (exited) throw new Error(`the telephony process exited: ${child.output()}`);
        const response = await control('/healthz').catch(() => undefined);
        const health = response?.ok ? ((await response.json()) as Health) : undefined;
        return health !== undefined && ready(health) ? health : undefined;
      }, timeoutMs, what),
  };
}
