/**
 * SIPp peers for tests and benchmarks: carriers (answer, busy, no answer, 503), agents (auto-answer,
 * never answers), gateways (OPTIONS, REFER targets) and callers placing calls into the hub. Every
 * peer runs real SIPp over UDP on its own loopback address, bounded by -m (calls) and -timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
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
  | 'caller-number-ivr-hub-hangs-up'
  | 'caller-queued'
  | 'caller-queued-transferee'
  | 'caller-ivr-digit'
  | 'caller-ivr-rfc2833'
  | 'transferee'
  | 'agent-register'
  | 'register-flood'
  | 'registrar-digest'
  | 'registrar-forbidden'
  | 'carrier-answer-accepts-reinvite'
  | 'carrier-answer-late-accepts-reinvite'
  | 'carrier-random-outcome'
  | 'agent-answers-talks';

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
  /** Write every SIP message (-trace_msg) into this directory, for `receivedRequests`. */
  traceDirectory?: string;
}

/** A request a peer received (first copy only, retransmissions left out). */
export interface ReceivedRequest {
  method: string;
  /** Request-URI user part, e.g. the dialled digits. */
  user: string;
  /** From URI user part, e.g. the caller ID. */
  fromUser: string;
  callId: string;
  /** When SIPp received it (its trace clock, local time). */
  at: Date;
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

/**
 * 127.x.y.z addresses private to this process, never 127.0.0.1: the pid picks the second octet and a
 * block of five third octets (two test processes share addresses only if their pids are equal modulo
 * 10,000), the counter the rest (1,250 addresses per process).
 */
export function nextLoopbackAddress(): string {
  loopbackCounter++;
  const second = 20 + (process.pid % 200);
  const block = Math.floor(process.pid / 200) % 50;
  const third = block * 5 + (Math.floor(loopbackCounter / 250) % 5);
  return `127.${second}.${third}.${(loopbackCounter % 250) + 2}`;
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
  private pid: number | undefined;

  constructor(private readonly options: SippOptions) {
    this.address = options.address;
  }

  get uri(): string {
    return `sip:${this.options.service ?? 'peer'}@${this.address}:${this.port}`;
  }

  get hostport(): string {
    return `${this.address}:${this.port}`;
  }

  /**
   * Starts SIPp and resolves once its UDP socket is bound (so a test can send to it at once). A port
   * found free can be taken by another process before SIPp binds it (suites run side by side): with
   * no fixed port, SIPp is started again on other ports, up to three times.
   */
  async start(): Promise<this> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.startOnce();
      } catch (error) {
        const lostRace = error instanceof Error && /Unable to bind|Address already in use/.test(error.message);
        if (!lostRace || this.options.port !== undefined || attempt >= 3) throw error;
      }
    }
  }

  private async startOnce(): Promise<this> {
    const options = this.options;
    this.port = options.port ?? (await freeUdpPort(this.address));
    // The media port must not land on (or next to) the signalling port the kernel just handed out.
    let mediaPort = await freeUdpPort(this.address);
    while (Math.abs(mediaPort - this.port) < 4) mediaPort = await freeUdpPort(this.address);
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
      '-mp', String(mediaPort),
      ...(options.service ? ['-s', options.service] : []),
      ...(options.rate ? ['-r', String(options.rate)] : []),
      ...(options.concurrency ? ['-l', String(options.concurrency)] : []),
      ...(options.pauseMs !== undefined ? ['-d', String(options.pauseMs)] : []),
      ...Object.entries(options.keys ?? {}).flatMap(([key, value]) => ['-key', key, value]),
      ...(options.rttDirectory ? ['-trace_rtt', '-rtt_freq', '1'] : []),
      ...(options.authUsername !== undefined ? ['-au', options.authUsername] : []),
      ...(options.authPassword !== undefined ? ['-ap', options.authPassword] : []),
      ...(options.traceDirectory ? ['-trace_msg'] : []),
    ];
    if (options.traceDirectory && options.rttDirectory && options.traceDirectory !== options.rttDirectory) throw new Error('rttDirectory and traceDirectory must be the same directory');
    const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.traceDirectory ?? options.rttDirectory });
    this.child = child;
    this.pid = child.pid;
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

  /**
   * The requests this peer received so far, in order, from its -trace_msg file (SIPp writes each
   * message as it goes); needs `traceDirectory`.
   */
  async receivedRequests(method?: string): Promise<ReceivedRequest[]> {
    if (!this.options.traceDirectory || this.pid === undefined) throw new Error('sipp peer was not started with a traceDirectory');
    const file = join(this.options.traceDirectory, `${this.options.scenario}_${this.pid}_messages.log`);
    const text = await readFile(file, 'latin1').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? '' : Promise.reject(error)));
    return parseReceivedRequests(text).filter((request) => method === undefined || request.method === method);
  }

  /** Ends SIPp early (a test that failed half-way). */
  stop(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

export async function startSipp(options: SippOptions): Promise<SippPeer> {
  return new SippPeer(options).start();
}

/** The requests in a -trace_msg file, first copy of each (method, Call-ID, CSeq) only. */
export function parseReceivedRequests(trace: string): ReceivedRequest[] {
  const requests: ReceivedRequest[] = [];
  const seen = new Set<string>();
  for (const block of trace.replaceAll('\r', '').split(/^-{10,} /m)) {
    const stamp = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d{3})\d*\s*\n(?:\w+ )?message received/.exec(block);
    if (stamp === null) continue;
    // In-dialog requests (ACK, BYE, a re-INVITE) go to the Contact, often without a user part.
    const start = /^([A-Z]+) sips?:(?:([^@;>\s]*)@)?\S+ SIP\/2\.0$/m.exec(block);
    if (start === null) continue;
    const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(block)?.[1]?.trim() ?? '';
    const callId = header('Call-ID');
    const key = `${start[1]} ${callId} ${header('CSeq')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    requests.push({
      method: start[1] as string,
      user: start[2] ?? '',
      fromUser: /sips?:([^@;>]*)@/.exec(header('From'))?.[1] ?? '',
      callId,
      // SIPp prints its local time without a zone; without a "Z" Date reads it as local time too.
      at: new Date(`${stamp[1]}T${stamp[2]}`),
    });
  }
  return requests;
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
