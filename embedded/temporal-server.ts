import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { unlessMissing } from './files.js';
import { findFreePort, isPortAccepting } from './ports.js';
import { type OutputTail, readCommandLine, terminateProcess } from './processes.js';
import { spawnSupervisedServer, waitUntilReady } from './supervised-server.js';

export type SearchAttributeType = 'Keyword' | 'KeywordList' | 'Text' | 'Int' | 'Datetime' | 'Bool' | 'Double';

export interface TemporalDevServerOptions {
  /** Path to the `temporal` CLI, e.g. from ensureTemporalBinary(). */
  binary: string;
  /** gRPC frontend port; a free one when omitted. */
  port?: number;
  /** Web UI port; a free one when omitted; `false` runs headless. */
  uiPort?: number | false;
  /** SQLite file for state that survives restarts; in-memory when omitted. */
  dbFile?: string;
  /** Namespace created at start and waited for; `default` when omitted. */
  namespace?: string;
  searchAttributes?: Record<string, SearchAttributeType>;
  /** Server stdout/stderr are appended here; discarded when omitted (a tail is kept for errors). */
  logFile?: string;
  /** How long to wait for the server to answer; 30 s when omitted. */
  startTimeoutMs?: number;
}

export interface TemporalDevServer {
  /** host:port of the gRPC frontend, ready for Connection.connect({ address }). */
  address: string;
  namespace: string;
  uiUrl?: string;
  pid: number;
  /** SIGTERM, then SIGKILL if the server has not exited after a grace period. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const READINESS_POLL_MS = 100;
const SEARCH_ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const namespace = options.namespace ?? 'default';
  const port = options.port ?? (await findFreePort(HOST));
  const uiPort = options.uiPort === false ? false : (options.uiPort ?? (await findFreePort(HOST)));
  const dbFile = options.dbFile === undefined ? undefined : path.resolve(options.dbFile);
  const args = startDevArguments({ port, uiPort, dbFile, namespace, searchAttributes: options.searchAttributes ?? {} });

  if (dbFile !== undefined) {
    await mkdir(path.dirname(dbFile), { recursive: true });
    await stopOrphanedServer(dbFile);
  }
  // The readiness probe cannot tell servers apart: with the port taken it would
  // happily talk to the other one while ours fails to bind.
  await assertPortsFree([port, ...(uiPort === false ? [] : [uiPort])]);
  const server = await spawnSupervisedServer({
    name: 'temporal server start-dev',
    binary: options.binary,
    args,
    logFile: options.logFile,
    stopGraceMs: STOP_GRACE_MS,
    cleanUp: dbFile === undefined ? undefined : () => rm(serverPidFile(dbFile), { force: true }),
  });
  const { child } = server;
  const address = `${HOST}:${port}`;
  try {
    // Recorded before waiting, so a parent killed during start-up still leaves a trace of its child.
    if (dbFile !== undefined && child.pid !== undefined) await writeFile(serverPidFile(dbFile), String(child.pid));
  } catch (error) {
    await server.stop();
    throw error;
  }
  const deadline = Date.now() + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  await waitUntilReady(server, `answering on ${address}`, (isAbandoned) => pollUntilServing(address, namespace, deadline, isAbandoned, server.tail));
  return {
    address,
    namespace,
    ...(uiPort === false ? {} : { uiUrl: `http://${HOST}:${uiPort}` }),
    pid: child.pid as number,
    stop: server.stop,
  };
}

async function assertPortsFree(ports: number[]): Promise<void> {
  for (const port of ports) {
    if (await isPortAccepting(port, HOST)) throw new Error(`Cannot start the Temporal dev server: ${HOST}:${port} is already in use`);
  }
}

interface StartDevSettings {
  port: number;
  uiPort: number | false;
  dbFile: string | undefined;
  namespace: string;
  searchAttributes: Record<string, SearchAttributeType>;
}

function startDevArguments(settings: StartDevSettings): string[] {
  const searchAttributeArgs = Object.entries(settings.searchAttributes).flatMap(([name, type]) => {
    // The CLI reports a bad name only in its log after a slow start; fail fast with a clear message instead.
    if (!SEARCH_ATTRIBUTE_NAME.test(name)) throw new Error(`Search attribute name "${name}" is not an identifier`);
    return ['--search-attribute', `${name}=${type}`];
  });
  return [
    'server',
    'start-dev',
    '--ip',
    HOST,
    '--port',
    String(settings.port),
    ...(settings.uiPort === false ? ['--headless'] : ['--ui-port', String(settings.uiPort)]),
    ...(settings.dbFile === undefined ? [] : ['--db-filename', settings.dbFile]),
    '--namespace',
    settings.namespace,
    ...searchAttributeArgs,
    '--log-level',
    'warn',
  ];
}

async function pollUntilServing(address: string, namespace: string, deadline: number, isAbandoned: () => boolean, tail: OutputTail): Promise<void> {
  const port = Number(address.split(':')[1]);
  let lastError: unknown = new Error('the port never accepted connections');
  while (!isAbandoned()) {
    if (Date.now() >= deadline) {
      throw new Error(`Temporal dev server on ${address} did not answer in time (last error: ${String(lastError)}):\n${tail.toString()}`, {
        cause: lastError,
      });
    }
    if (await isPortAccepting(port, HOST)) {
      try {
        await describeNamespaceOnce(address, namespace);
        return;
      } catch (error) {
        // Expected while the frontend or the namespace is still coming up; kept for the timeout message.
        lastError = error;
      }
    }
    await sleep(READINESS_POLL_MS);
  }
}

async function describeNamespaceOnce(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({
    address,
    connectTimeout: 2_000,
    // grpc-js shares subchannels per address across a process: without a private
    // pool the probe inherits another client's reconnect backoff (~1-2 s after an outage).
    channelArgs: { 'grpc.use_local_subchannel_pool': 1 },
  });
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } finally {
    await connection.close();
  }
}

/**
 * Beside the SQLite file, so a later start on the same file can find a server
 * left running by a parent that was SIGKILLed where no parent-death signal
 * exists (off Linux, or without setpriv): no exit hook runs then.
 */
function serverPidFile(dbFile: string): string {
  return `${dbFile}.pid`;
}

async function stopOrphanedServer(dbFile: string): Promise<void> {
  const pidText = await unlessMissing(readFile(serverPidFile(dbFile), 'utf8'), undefined);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (Number.isInteger(pid) && pid > 0) {
    // A reused pid belongs to some unrelated process: only a start-dev on this very file is ours to stop.
    const commandLine = await readCommandLine(pid);
    if (commandLine?.includes('start-dev') && commandLine.includes(dbFile)) {
      await terminateProcess(pid, 'SIGTERM', 'SIGKILL', STOP_GRACE_MS);
    }
  }
  await rm(serverPidFile(dbFile), { force: true });
}
