/**
 * SIPp peers for tests and benchmarks: carriers (answer, busy, no answer, 503), agents (auto-answer,
 * never answers), gateways (OPTIONS, REFER targets) and callers placing calls into the hub. Every
 * peer runs real SIPp over UDP on its own loopback address, bounded by -m (calls) and -timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputTail } from '../../embedded/processes.js';

export const scenarioDir = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');

export type PeerScenario =
  | 'carrier-answer'
  | 'callee-dtmf-2833'
  | 'callee-hangs-up'
  | 'carrier-busy'
  | 'carrier-unavailable'
  | 'carrier-no-answer'
  | 'carrier-digest'
  | 'options-responder'
  | 'caller'
  | 'caller-flood'
  | 'caller-abandons'
  | 'caller-dtmf-info'
  | 'caller-accepts-reinvite'
  | 'caller-number-accepts-reinvite'
  | 'caller-number-ivr-digit'
  | 'caller-queued'
  | 'caller-queued-transferee'
  | 'caller-ivr-digit'
  | 'caller-ivr-rfc2833'
  | 'transferee'
  | 'agent-register'
  | 'register-flood'
  | 'registrar-digest'
  | 'registrar-forbidden'
  | 'carrier-answer-accepts-reinvite';

export interface SippOptions {
  scenario: PeerScenario;
  /** Loopback address of this peer; `nextLoopbackAddress()` hands out unused ones. */
  address: string;
  /** UDP port; default: a free one on `address`. */
  port?: number;
  /** Callers only: where to send INVITEs (`host:port`). */
  target?: string;
  /** Request-URI user part for callers ([service]). */
  service?: string;
  /** -m: SIPp exits after this many calls. */
  calls: number;
  /** -timeout: hard limit on SIPp's run time. */
  timeoutSeconds: number;
  /** -r / -l: call rate per second and simultaneous calls limit (callers). */
  rate?: number;
  concurrency?: number;
  /** -d: pause length in ms (call duration for callers). */
  pauseMs?: number;
  /** -key name value pairs for [$name] in the scenario. */
  keys?: Record<string, string>;
  /** -au / -ap: digest credentials for `[authentication]` in the scenario (a phone registering). */
  authUsername?: string;
  authPassword?: string;
  /** Write per-call response times (-trace_rtt) into this directory. */
  rttDirectory?: string;
}

export interface ScenarioLine {
  /** SIPp draws requests left-to-right and responses right-to-left whoever sends them, so no direction here. */
  message: string;
  count: number;
}

export interface SippResult {
  exitCode: number | null;
  successful: number;
  failed: number;
  /** Per scenario line: how many times it was sent or received. */
  lines: ScenarioLine[];
  output: string;
}

let loopbackCounter = 0;

/** 127.x.y.z addresses private to this process (pid-based second octet), never 127.0.0.1. */
export function nextLoopbackAddress(): string {
  loopbackCounter++;
  const second = 20 + (process.pid % 200);
  return `127.${second}.${Math.floor(loopbackCounter / 250)}.${(loopbackCounter % 250) + 2}`;
}

/** Asks the kernel for a free UDP port on `address`. */
export async function freeUdpPort(address: string): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

async function isUdpPortBound(address: string, port: number): Promise<boolean> {
  const socket = createSocket('udp4');
  return new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(true));
    socket.bind(port, address, () => socket.close(() => resolve(false)));
  });
}

export class SippPeer {
  readonly address: string;
  port = 0;
  private child: ChildProcess | undefined;
  private readonly output = new OutputTail(64_000);
  private exit: Promise<number | null> | undefined;

  constructor(private readonly options: SippOptions) {
    this.address = options.address;
  }

  get uri(): string {
    return `sip:${this.options.service ?? 'peer'}@${this.address}:${this.port}`;
  }

  get hostport(): string {
    return `${this.address}:${this.port}`;
  }

  /** Starts SIPp and resolves once its UDP socket is bound (so a test can send to it at once). */
  async start(): Promise<this> {
    const options = this.options;
    this.port = options.port ?? (await freeUdpPort(this.address));
    const args = [
      ...(options.target ? [options.target] : []),
      '-sf', join(scenarioDir, `${options.scenario}.xml`),
      '-i', this.address,
      '-p', String(this.port),
      '-m', String(options.calls),
      '-timeout', `${options.timeoutSeconds}s`,
      '-timeout_error',
      '-nostdin',
      '-max_recv_loops', '10000',
      '-max_sched_loops', '10000',
      '-base_cseq', '1',
      '-mp', String(await freeUdpPort(this.address)),
      ...(options.service ? ['-s', options.service] : []),
      ...(options.rate ? ['-r', String(options.rate)] : []),
      ...(options.concurrency ? ['-l', String(options.concurrency)] : []),
      ...(options.pauseMs !== undefined ? ['-d', String(options.pauseMs)] : []),
      ...Object.entries(options.keys ?? {}).flatMap(([key, value]) => ['-key', key, value]),
      ...(options.rttDirectory ? ['-trace_rtt', '-rtt_freq', '1'] : []),
      ...(options.authUsername !== undefined ? ['-au', options.authUsername] : []),
      ...(options.authPassword !== undefined ? ['-ap', options.authPassword] : []),
    ];
    const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.rttDirectory });
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => this.output.append(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.output.append(chunk));
    this.exit = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve(code));
    });
    const deadline = Date.now() + 5_000;
    while (!(await isUdpPortBound(this.address, this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`sipp ${options.scenario} did not start on ${this.hostport}: ${this.output.toString()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this;
  }

  /** Waits for SIPp to finish its -m calls (or its -timeout) and reads its final statistics. */
  async finished(): Promise<SippResult> {
    if (!this.exit) throw new Error('sipp peer was not started');
    const exitCode = await this.exit;
    return parseSippOutput(exitCode, this.output.toString());
  }

  /** Ends SIPp early (a test that failed half-way). */
  stop(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

export async function startSipp(options: SippOptions): Promise<SippPeer> {
  return new SippPeer(options).start();
}

/** Reads the last statistics and scenario screens SIPp printed. */
export function parseSippOutput(exitCode: number | null, output: string): SippResult {
  const cumulative = (label: string): number => {
    const matches = [...output.matchAll(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'g'))];
    return Number(matches.at(-1)?.[1] ?? 0);
  };
  // The last scenario screen is the one before the last statistics screen.
  const lastScenario = output.lastIndexOf('Messages  Retrans');
  const screen = lastScenario === -1 ? '' : output.slice(lastScenario);
  const lines: ScenarioLine[] = [];
  // UAS screens draw `----> INVITE`, UAC screens `INVITE ---->`.
  for (const match of screen.matchAll(/^\s*(?:(?:<-+|-+>)\s+(\S+)|(\S+)\s+(?:<-+|-+>))\s+(?:[EB]-RTD\d\s+)?(\d+)/gm)) {
    lines.push({ message: (match[1] ?? match[2])!, count: Number(match[3]) });
  }
  return { exitCode, successful: cumulative('Successful call'), failed: cumulative('Failed call'), lines, output };
}

/** How often a message (method or status) appears in the scenario screen, e.g. `countOf(result, '503')`. */
export function countOf(result: SippResult, message: string): number {
  return result.lines.filter((line) => line.message === message).reduce((sum, line) => sum + line.count, 0);
}
