import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { findFreePort, isPortAccepting } from './ports.js';
import { hasExited, OutputTail, readCommandLine, settlesWithin, terminateProcess, waitForChildExit } from './processes.js';

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
  const logStream = options.logFile === undefined ? undefined : await openLogStream(options.logFile);
  const server = spawnServer(options.binary, args, logStream);
  const { child } = server;
  const stop = stopOnce(child, logStream, dbFile);
  const address = `${HOST}:${port}`;
  try {
    // Recorded before waiting, so a parent killed during start-up still leaves a trace of its child.
    if (dbFile !== undefined && child.pid !== undefined) await writeFile(serverPidFile(dbFile), String(child.pid));
    await waitUntilServing(server, address, namespace, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address,
    namespace,
    ...(uiPort === false ? {} : { uiUrl: `http://${HOST}:${uiPort}` }),
    pid: child.pid as number,
    stop,
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

async function openLogStream(logFile: string): Promise<WriteStream> {
  await mkdir(path.dirname(path.resolve(logFile)), { recursive: true });
  return createWriteStream(logFile, { flags: 'a' });
}

interface SpawnedServer {
  child: ChildProcess;
  /** Last lines of the server's output, to explain a failed start. */
  tail: OutputTail;
}

function spawnServer(binary: string, args: string[], logStream: WriteStream | undefined): SpawnedServer {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail = new OutputTail();
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      tail.append(chunk);
      logStream?.write(chunk);
    });
    // The server's lifetime follows the program's: these pipes alone must not keep Node running.
    (stream as Socket | null)?.unref();
  }
  // Without a listener a spawn or kill error would crash the process; it is reported through the tail instead.
  child.on('error', (error) => tail.append(`\n[spawn error] ${error.message}\n`));
  child.unref();
  killOnParentExit(child);
  return { child, tail };
}

function stopOnce(child: ChildProcess, logStream: WriteStream | undefined, dbFile: string | undefined): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      await terminateChild(child);
      liveChildren.delete(child);
      if (dbFile !== undefined) await rm(serverPidFile(dbFile), { force: true });
      if (logStream !== undefined) await closeLogStream(logStream);
    })();
    return stopping;
  };
}

async function terminateChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = waitForChildExit(child);
  child.kill('SIGTERM');
  if (await settlesWithin(exited, STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  await exited;
}

async function closeLogStream(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/**
 * Resolves once the frontend answers for the namespace; rejects with the
 * server's own output when it exits first or the deadline passes.
 */
async function waitUntilServing(server: SpawnedServer, address: string, namespace: string, timeoutMs: number): Promise<void> {
  const { child, tail } = server;
  let settled = false;
  const exitedEarly = new Promise<never>((_, reject) => {
    child.once('error', (error) => {
      if (!settled) reject(new Error(`Could not run the Temporal CLI: ${error.message}`, { cause: error }));
    });
    child.once('exit', (code, signal) => {
      if (settled) return;
      const status = signal ? `signal ${signal}` : `code ${String(code)}`;
      reject(new Error(`temporal server start-dev exited (${status}) before answering on ${address}:\n${tail.toString()}`));
    });
  });
  try {
    await Promise.race([exitedEarly, pollUntilServing(address, namespace, Date.now() + timeoutMs, () => settled, tail)]);
  } finally {
    settled = true;
  }
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
 * left running by a parent that was SIGKILLed (no exit hook runs then).
 */
function serverPidFile(dbFile: string): string {
  return `${dbFile}.pid`;
}

async function stopOrphanedServer(dbFile: string): Promise<void> {
  const pidText = await readFile(serverPidFile(dbFile), 'utf8').then(
    (text) => text,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    },
  );
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

const liveChildren = new Set<ChildProcess>();
let exitHooksInstalled = false;

function killOnParentExit(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // 'exit' handlers must be synchronous: signal now, the server finishes its own shutdown.
  process.once('exit', () => signalLiveChildren('SIGTERM'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // Another handler owns graceful shutdown; it will exit the process and our 'exit' hook runs then.
      if (process.listenerCount(signal) > 1) return;
      signalLiveChildren('SIGTERM');
      process.removeListener(signal, onSignal);
      // With no listener left, re-raising gives Node's default "terminate on signal" behaviour back.
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function signalLiveChildren(signal: NodeJS.Signals): void {
  for (const child of liveChildren) {
    if (!hasExited(child)) child.kill(signal);
  }
}
