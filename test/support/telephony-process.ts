// The telephony process (telephony/main.ts) started for a test the way `npm start` starts it: a child
// process on the test hub's database and Temporal, the drachtio-server stand-in and SIP on a free
// port, its control endpoint on another. One place for the start, the health wait and the control calls.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { inject } from 'vitest';
import { findFreePort } from '../../embedded/ports.js';
import { findFreeUdpPort } from '../../embedded/rtpengine.js';
import type { SippPeer } from '../../telephony/testing/sipp.js';
import type { TestHub, TestHubOptions } from './hub.js';
import { eventually, startTestHub } from './hub.js';
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
  options: { dataDir: string; telephonyTaskQueue: string; env?: Record<string, string | undefined>; controlPort?: number },
): Promise<TelephonyProcess> {
  const sipPort = await findFreeUdpPort('127.0.0.1');
  const controlPort = options.controlPort ?? (await findFreePort());
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

/**
 * A suite that runs the telephony process on a test hub of its own: the hub, a Temporal client, a
 * data directory, and the telephony processes and SIPp peers the suite starts, all torn down by
 * `close` (one place for the setup the e2e suites share).
 */
export interface TelephonySuite {
  hub: TestHub;
  client: Client;
  dataDir: string;
  /** SIPp peers the suite started: push them here and `close` stops them. */
  peers: SippPeer[];
  /** Starts the telephony process on the suite's hub and data directory (the hub's telephony task queue unless given). */
  startTelephony(options?: { telephonyTaskQueue?: string; env?: Record<string, string | undefined> }): Promise<TelephonyProcess>;
  close(): Promise<void>;
}

export async function startTelephonySuite(name: string, hubOptions: TestHubOptions = {}): Promise<TelephonySuite> {
  const hub = await startTestHub(hubOptions);
  const dataDir = await mkdtemp(join(tmpdir(), `hub-${name}-`));
  const peers: SippPeer[] = [];
  const processes: TelephonyProcess[] = [];
  return {
    hub,
    client: await hub.temporal.client(),
    dataDir,
    peers,
    async startTelephony(options = {}) {
      const started = await startTelephonyProcess(hub, {
        dataDir, telephonyTaskQueue: options.telephonyTaskQueue ?? hub.telephonyTaskQueue, ...(options.env === undefined ? {} : { env: options.env }),
      });
      processes.push(started);
      return started;
    },
    async close() {
      for (const started of processes) await started.process.kill('SIGKILL');
      for (const peer of peers) peer.stop();
      await hub.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
