import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort, isPortAccepting } from './ports.js';
import type { OutputTail } from './processes.js';
import { findExecutable, spawnSupervisedServer, waitUntilReady } from './supervised-server.js';

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

  // Redis needs a working directory it may write to (it would put dumps there);
  // with persistence off it stays empty, and it goes away with the server.
  const workDir = await mkdtemp(path.join(tmpdir(), 'embedded-redis-'));
  const args = [
    '--port', String(port),
    '--bind', HOST,
    // No RDB snapshots and no AOF: a restart starts empty, which is what a test of "Redis lost its state" needs.
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', workDir,
  ];
  const server = await spawnSupervisedServer({
    name: 'redis-server',
    binary,
    args,
    logFile: options.logFile,
    stopGraceMs: STOP_GRACE_MS,
    cleanUp: () => rm(workDir, { recursive: true, force: true }),
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  await waitUntilReady(server, `answering on ${HOST}:${port}`, (isAbandoned) => pollUntilPong(port, deadline, isAbandoned, server.tail));
  return { url: `redis://${HOST}:${port}`, port, pid: server.child.pid as number, stop: server.stop };
}

/**
 * The redis-server executable from PATH, else from the directories Debian and
 * Homebrew install it to, which a minimal PATH (cron, service managers) may lack.
 */
export async function findRedisServer(searchDirs?: readonly string[]): Promise<string> {
  const found = await findExecutable('redis-server', searchDirs);
  if (found === undefined) throw new Error(MISSING_BINARY);
  return found;
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
