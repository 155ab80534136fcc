import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExecutable, spawnSupervisedServer, waitUntilReady } from './supervised-server.js';

export interface EmbeddedRtpengineOptions {
  /** Address rtpengine binds for RTP and writes into SDP; 127.0.0.1 when omitted. */
  interfaceAddress?: string;
  /** UDP port of the ng control protocol on 127.0.0.1; a free one when omitted. */
  ngPort?: number;
  /**
   * Where rtpengine sends one JSON datagram per detected DTMF event (RFC 2833
   * or in-band); the media control listens there. No DTMF log when omitted.
   */
  dtmfLogDestination?: { host: string; port: number };
  /** RTP port range; rtpengine's own default (30000-40000) when omitted. */
  rtpPorts?: { min: number; max: number };
  /** Server output is appended here; only a tail is kept (for errors) when omitted. */
  logFile?: string;
  /** syslog-style level 0-7 for that output; 6 (info: one line per ng command) when omitted. */
  logLevel?: number;
  /** How long to wait for the ng ping to be answered; 10 s when omitted. */
  startTimeoutMs?: number;
}

export interface EmbeddedRtpengine {
  /** Where rtpengine-client sends ng commands. */
  ng: { host: string; port: number };
  interfaceAddress: string;
  pid: number;
  /** SIGTERM, then SIGKILL after a grace period; every call in it is gone. Idempotent. */
  stop(): Promise<void>;
}

const NG_HOST = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const READINESS_POLL_MS = 50;
const PING_TIMEOUT_MS = 500;
const MISSING_BINARY = 'rtpengine not found: apt-get install rtpengine-daemon (Debian/Ubuntu), or point the hub at a running rtpengine';

/**
 * Starts a private rtpengine in user space (no kernel forwarding module) for
 * tests and `npm start`, so IVR prompts and DTMF work without a system
 * service or root. Every packet goes through the daemon's user-space path,
 * which is also where DTMF events are detected and logged.
 */
export async function startEmbeddedRtpengine(options: EmbeddedRtpengineOptions = {}): Promise<EmbeddedRtpengine> {
  const binary = await findExecutable('rtpengine');
  if (binary === undefined) throw new Error(MISSING_BINARY);
  const interfaceAddress = options.interfaceAddress ?? '127.0.0.1';
  const ngPort = options.ngPort ?? (await findFreeUdpPort(NG_HOST));
  // A ping cannot tell daemons apart: with the port taken it would be answered by the other one while ours fails to bind.
  if (!(await isUdpPortFree(ngPort, NG_HOST))) throw new Error(`Cannot start the embedded rtpengine: UDP ${NG_HOST}:${ngPort} is already in use`);

  const args = [
    // Not /etc/rtpengine/rtpengine.conf: it configures the packaged system service (kernel table 0, fixed ports).
    '--config-file=none',
    `--interface=${interfaceAddress}`,
    `--listen-ng=${NG_HOST}:${ngPort}`,
    // -1: no kernel forwarding table; user space only, so no module and no root are needed.
    '--table=-1',
    '--foreground',
    '--log-stderr',
    `--log-level=${options.logLevel ?? 6}`,
    // Calls are deleted at once on "delete": a test or an IVR leg that ends frees its ports immediately.
    '--delete-delay=0',
    // The hub shares its cores with PostgreSQL, Temporal and the SIP layer; a few threads carry test and IVR loads.
    '--num-threads=2',
    '--media-num-threads=1',
    ...(options.rtpPorts ? [`--port-min=${options.rtpPorts.min}`, `--port-max=${options.rtpPorts.max}`] : []),
    ...(options.dtmfLogDestination ? [`--dtmf-log-dest=${options.dtmfLogDestination.host}:${options.dtmfLogDestination.port}`] : []),
  ];
  const server = await spawnSupervisedServer({ name: 'rtpengine', binary, args, logFile: options.logFile, stopGraceMs: STOP_GRACE_MS });
  const ng = { host: NG_HOST, port: ngPort };
  const deadline = Date.now() + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  await waitUntilReady(server, `answering ng ping on ${NG_HOST}:${ngPort}`, (isAbandoned) => pollUntilPong(ng, deadline, isAbandoned, server.tail));
  return { ng, interfaceAddress, pid: server.child.pid as number, stop: server.stop };
}

async function pollUntilPong(ng: { host: string; port: number }, deadline: number, isAbandoned: () => boolean, tail: { toString(): string }): Promise<void> {
  while (!isAbandoned()) {
    const lastAnswer = await pingNg(ng, PING_TIMEOUT_MS);
    if (lastAnswer === 'pong') return;
    if (Date.now() >= deadline) throw new Error(`rtpengine on ${ng.host}:${ng.port} did not answer ping in time (last: ${lastAnswer}):\n${tail.toString()}`);
    await sleep(READINESS_POLL_MS);
  }
}

/**
 * One ng "ping" over UDP: `<cookie> d7:command4:pinge`, answered with
 * `<cookie> d6:result4:ponge`. Returns "pong", or what came instead. A raw
 * datagram keeps readiness free of the client library's own state.
 */
export async function pingNg(ng: { host: string; port: number }, timeoutMs: number): Promise<string> {
  const cookie = randomBytes(8).toString('hex');
  const socket = createSocket('udp4');
  return new Promise<string>((resolve) => {
    let done = false;
    const finish = (answer: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(answer);
    };
    const timer = setTimeout(() => finish('timed out'), timeoutMs);
    socket.on('message', (message: Buffer) => {
      const text = message.toString('latin1');
      if (!text.startsWith(`${cookie} `)) return; // a late answer to an earlier poll
      finish(text.slice(cookie.length + 1) === 'd6:result4:ponge' ? 'pong' : text.slice(cookie.length + 1));
    });
    // ECONNREFUSED arrives as an error on a connected-less UDP socket on some kernels: an answer for the poll loop.
    socket.on('error', (error) => finish(error.message));
    socket.send(`${cookie} d7:command4:pinge`, ng.port, ng.host);
  });
}

/**
 * A UDP port nobody is bound to right now. Another process can take it
 * before rtpengine binds it; the start then fails with rtpengine's own
 * "address in use" message rather than silently sharing a port.
 */
export async function findFreeUdpPort(host = '127.0.0.1'): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function isUdpPortFree(port: number, host: string): Promise<boolean> {
  const socket = createSocket('udp4');
  return new Promise<boolean>((resolve, reject) => {
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.close();
      if (error.code === 'EADDRINUSE') resolve(false);
      else reject(error);
    });
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}
