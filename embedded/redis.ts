import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, type WriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort, isPortAccepting } from './ports.js';
import { hasExited, OutputTail, settlesWithin, waitForChildExit } from './processes.js';

export interface EmbeddedRedisOptions {
  /**
   * TCP port on 127.0.0.1; a free one when omitted. Starting again on the port
   * of a stopped instance simulates a Redis restart: same address, no data.
   */
  port?: number;
  /** Server output is appended here; discarded when omitted (a tail is kept for errors). */
  logFile?: string;
  /** How long to wait for PING to be answered; 10 s when omitted. */
  startTimeoutMs?: number;
}

export interface EmbeddedRedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  /** SIGTERM, then SIGKILL after a grace period; every key is lost (nothing is persisted). Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const READINESS_POLL_MS = 50;
const PING_TIMEOUT_MS = 1_000;
const MISSING_BINARY = 'redis-server not found: apt-get install redis-server (or set REDIS_URL)';

/**
 * Starts a private, memory-only redis-server for tests, benchmarks and
 * `npm start`, so none of them depend on a Redis installed as a service.
 */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedisServer> {
  const binary = await findRedisServer();
  const port = options.port ?? (await findFreePort(HOST));
  // PING cannot tell servers apart: with the port taken it would be answered by
  // the other one while ours fails to bind.
  if (await isPortAccepting(port, HOST)) throw new Error(`Cannot start the embedded Redis: ${HOST}:${port} is already in use`);

  const logStream = options.logFile === undefined ? undefined : await openLogStream(options.logFile);
  // Redis needs a working directory it may write to (it would put dumps there);
  // with persistence off it stays empty, and it goes away with the server.
  const workDir = await mkdtemp(path.join(tmpdir(), 'embedded-redis-')).catch(async (error: unknown) => {
    await closeLogStream(logStream);
    throw error;
  });
  const args = [
    '--port', String(port),
    '--bind', HOST,
    // No RDB snapshots and no AOF: a restart starts empty, which is what a test of "Redis lost its state" needs.
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', workDir,
  ];
  const { child, tail } = spawnTiedToParent(binary, args, logStream);
  const stop = stopOnce(child, async () => {
    await rm(workDir, { recursive: true, force: true });
    await closeLogStream(logStream);
  });
  try {
    await waitUntilAnswering(child, tail, port, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis://${HOST}:${port}`, port, pid: child.pid as number, stop };
}

/**
 * The redis-server executable from PATH, else from the directories Debian and
 * Homebrew install it to, which a minimal PATH (cron, service managers) may lack.
 */
export async function findRedisServer(searchDirs: readonly string[] = defaultSearchDirs()): Promise<string> {
  const found = await findExecutable('redis-server', searchDirs);
  if (found === undefined) throw new Error(MISSING_BINARY);
  return found;
}

function defaultSearchDirs(): string[] {
  const fromPath = (process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
  return [...fromPath, '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin', '/opt/homebrew/bin'];
}

async function findExecutable(name: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    const executable = await access(candidate, constants.X_OK).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        // Missing or not executable here: try the next directory. Anything else (EIO...) is a real fault.
        if (error.code === 'ENOENT' || error.code === 'EACCES' || error.code === 'ENOTDIR') return false;
        throw error;
      },
    );
    if (executable) return candidate;
  }
  return undefined;
}

interface SpawnedServer {
  child: ChildProcess;
  /** Last lines of the server's output, to explain a failed start. */
  tail: OutputTail;
}

/**
 * Spawns the server so that it cannot outlive this process. An 'exit' hook
 * covers a normal exit; on Linux `setpriv --pdeathsig` also covers a parent
 * killed by a signal or SIGKILL (a vitest worker timing out, Ctrl-C in a
 * script without handlers), which no hook in Node can see. Signal handlers
 * are deliberately not installed: a handler turns off Node's default
 * "terminate on signal", and several modules each deferring to "another
 * handler" would leave the process unkillable by SIGTERM.
 */
function spawnTiedToParent(binary: string, args: string[], logStream: WriteStream | undefined): SpawnedServer {
  const setpriv = findSetpriv();
  // setpriv execs the server in place: the child's pid is the server's pid.
  const [command, commandArgs] = setpriv === undefined ? [binary, args] : [setpriv, ['--pdeathsig', 'SIGTERM', '--', binary, ...args]];
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
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
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  installExitHook();
  return { child, tail };
}

let setprivLookup: { path: string | undefined } | undefined;

/** util-linux's setpriv (essential on Debian, so normally present); undefined off Linux or when missing. */
function findSetpriv(): string | undefined {
  setprivLookup ??= {
    path: process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find((candidate) => isExecutableSync(candidate)) : undefined,
  };
  return setprivLookup.path;
}

function isExecutableSync(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch (error) {
    // Absent or not executable: run the server without the parent-death signal; the exit hook still applies.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EACCES') return false;
    throw error;
  }
}

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: signal now, the server finishes its own shutdown.
  process.once('exit', () => {
    for (const child of liveChildren) {
      if (!hasExited(child)) child.kill('SIGTERM');
    }
  });
}

function stopOnce(child: ChildProcess, cleanUp: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      await terminateChild(child);
      liveChildren.delete(child);
      await cleanUp();
    })();
    return stopping;
  };
}

/**
 * Uses the ChildProcess handle rather than terminateProcess(pid): once Node
 * has reaped the child its pid may be reused, and kill() on the handle is then
 * a no-op instead of a signal to a stranger.
 */
async function terminateChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = waitForChildExit(child);
  child.kill('SIGTERM');
  if (await settlesWithin(exited, STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  if (!(await settlesWithin(exited, STOP_GRACE_MS))) throw new Error(`redis-server (pid ${String(child.pid)}) did not exit after SIGTERM and SIGKILL`);
}

/**
 * Resolves once the server answers PING with PONG; rejects with the server's
 * own output when it exits first (bad flag, port taken) or the deadline passes.
 */
async function waitUntilAnswering(child: ChildProcess, tail: OutputTail, port: number, timeoutMs: number): Promise<void> {
  let settled = false;
  const exitedEarly = new Promise<never>((_, reject) => {
    child.once('error', (error) => {
      if (!settled) reject(new Error(`Could not run redis-server: ${error.message}`, { cause: error }));
    });
    child.once('exit', (code, signal) => {
      if (settled) return;
      const status = signal ? `signal ${signal}` : `code ${String(code)}`;
      reject(new Error(`redis-server exited (${status}) before answering on ${HOST}:${port}:\n${tail.toString()}`));
    });
  });
  try {
    await Promise.race([exitedEarly, pollUntilPong(port, Date.now() + timeoutMs, () => settled, tail)]);
  } finally {
    settled = true;
  }
}

async function pollUntilPong(port: number, deadline: number, isAbandoned: () => boolean, tail: OutputTail): Promise<void> {
  let lastAnswer = 'no connection';
  while (!isAbandoned()) {
    if (Date.now() >= deadline) {
      throw new Error(`redis-server on ${HOST}:${port} did not answer PING in time (last answer: ${lastAnswer}):\n${tail.toString()}`);
    }
    lastAnswer = await pingOnce(port);
    if (lastAnswer === '+PONG') return;
    await sleep(READINESS_POLL_MS);
  }
}

/**
 * One RESP PING over a raw socket: the first reply line ("+PONG", or
 * "-LOADING ..." while a server starts), or why there was none. A raw socket
 * keeps readiness free of client-library reconnect logic.
 */
async function pingOnce(port: number): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect({ port, host: HOST });
    let received = '';
    const finish = (answer: string): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(PING_TIMEOUT_MS, () => finish(received ? `partial reply ${JSON.stringify(received)}` : 'timed out'));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const lineEnd = received.indexOf('\r\n');
      if (lineEnd >= 0) finish(received.slice(0, lineEnd));
    });
    // Refused or reset while the server starts: an answer for the poll loop, not a fault.
    socket.once('error', (error) => finish(error.message));
    socket.once('close', () => finish(received ? `closed after ${JSON.stringify(received)}` : 'connection closed'));
  });
}

async function openLogStream(logFile: string): Promise<WriteStream> {
  await mkdir(path.dirname(path.resolve(logFile)), { recursive: true });
  return createWriteStream(logFile, { flags: 'a' });
}

async function closeLogStream(stream: WriteStream | undefined): Promise<void> {
  if (stream === undefined) return;
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
