import { access, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { unlessMissing } from './files.js';
import { findFreePort, isPortAccepting } from './ports.js';
import { describeFailure, isProcessAlive, type OutputTail, readCommandLine, runCommand, terminateProcess } from './processes.js';
import { findExecutable, spawnSupervisedServer, waitUntilReady } from './supervised-server.js';

export interface EmbeddedMariaDbOptions {
  /** Data directory; initialised on first use, reused (with its data) afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Server and installer output is appended here; discarded when omitted (a tail is kept for errors). */
  logFile?: string;
  /** How long to wait for the server to accept a login; 60 s when omitted. */
  startTimeoutMs?: number;
}

export interface EmbeddedMariaDbServer {
  /** mysql://root@127.0.0.1:<port>/test (root, empty password, TCP only) */
  url: string;
  port: number;
  dataDir: string;
  pid: number;
  /** Clean shutdown (SIGTERM), SIGKILL after a grace period; data stays in dataDir. Idempotent. */
  stop(): Promise<void>;
}

export interface MariaDbBinaries {
  server: string;
  installDb: string;
}

const HOST = '127.0.0.1';
const DATABASE = 'test';
const DEFAULT_START_TIMEOUT_MS = 60_000;
const INSTALL_TIMEOUT_MS = 120_000;
// InnoDB flushes its buffer pool on a clean shutdown; a test-sized one takes well under a second.
const STOP_GRACE_MS = 30_000;
const READINESS_POLL_MS = 100;
const PID_FILE = 'mariadbd.pid';
const INIT_FILE = 'embedded-init.sql';
// sun_path holds 108 bytes on Linux (104 on macOS) including the terminating NUL.
const MAX_SOCKET_PATH = 100;
const INSTALL_HINT = 'apt-get install mariadb-server-core mariadb-client-core (or mariadb-server), or set MARIADB_URL';

/**
 * Run by the server at every start, before it accepts connections, with full
 * privileges. Whatever mariadb-install-db created for root, TCP logins as
 * root without a password then work, and the URL's database exists.
 */
const INIT_SQL = [
  `CREATE USER IF NOT EXISTS 'root'@'${HOST}';`,
  `GRANT ALL PRIVILEGES ON *.* TO 'root'@'${HOST}' WITH GRANT OPTION;`,
  `CREATE DATABASE IF NOT EXISTS \`${DATABASE}\`;`,
  '',
].join('\n');

/**
 * Starts a private MariaDB for tests and benchmarks (the SQL CRM's MySQL
 * flavour), so none of them depend on a MariaDB installed as a service.
 */
export async function startEmbeddedMariaDb(options: EmbeddedMariaDbOptions): Promise<EmbeddedMariaDbServer> {
  const binaries = await findMariaDbBinaries();
  const dataDir = path.resolve(options.dataDir);
  const port = options.port ?? (await findFreePort(HOST));
  const asRoot = process.getuid?.() === 0;
  const args = [
    // Must come first: no /etc/mysql/my.cnf, whose settings (ports, sockets, log paths, users) belong to a system server.
    '--no-defaults',
    `--datadir=${dataDir}`,
    `--port=${port}`,
    `--bind-address=${HOST}`,
    `--socket=${socketPath(dataDir, port)}`,
    `--pid-file=${path.join(dataDir, PID_FILE)}`,
    `--init-file=${path.join(dataDir, INIT_FILE)}`,
    // Logins come from 127.0.0.1 only; no reverse DNS lookups, which stall on machines with a broken resolver.
    '--skip-name-resolve',
    // The compiled-in default is latin1; utf8mb4 is what Debian's packaged config and real CRM databases use.
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci',
    // As root, mariadbd refuses to start unless told explicitly to stay root.
    ...(asRoot ? ['--user=root'] : []),
  ];
  const server = await spawnSupervisedServer({
    name: 'mariadbd',
    binary: binaries.server,
    args,
    logFile: options.logFile,
    stopGraceMs: STOP_GRACE_MS,
    prepare: async (appendToLog) => {
      if (!(await isInitialised(dataDir))) await initialise(binaries.installDb, dataDir, asRoot, appendToLog);
      await stopOrphanedServer(dataDir);
      // A login probe cannot tell servers apart: with the port taken it would reach the other one while ours fails to bind.
      if (await isPortAccepting(port, HOST)) throw new Error(`Cannot start the embedded MariaDB: ${HOST}:${port} is already in use`);
      await writeFile(path.join(dataDir, INIT_FILE), INIT_SQL);
    },
  });
  const url = `mysql://root@${HOST}:${port}/${DATABASE}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  await waitUntilReady(server, `answering on ${url}`, (isAbandoned) => pollUntilLogin(url, deadline, isAbandoned, server.tail));
  return { url, port, dataDir, pid: server.child.pid as number, stop: server.stop };
}

/**
 * mariadbd and mariadb-install-db (or their mysqld / mysql_install_db names)
 * from PATH, else from where Debian and Homebrew install them: a non-root
 * user's PATH usually lacks /usr/sbin, home of mariadbd.
 */
export async function findMariaDbBinaries(searchDirs?: readonly string[]): Promise<MariaDbBinaries> {
  const server = (await findExecutable('mariadbd', searchDirs)) ?? (await findExecutable('mysqld', searchDirs));
  if (server === undefined) throw new Error(`mariadbd not found: ${INSTALL_HINT}`);
  const installDb = (await findExecutable('mariadb-install-db', searchDirs)) ?? (await findExecutable('mysql_install_db', searchDirs));
  if (installDb === undefined) throw new Error(`mariadb-install-db not found: ${INSTALL_HINT}`);
  return { server, installDb };
}

/** The system schema exists only once an initialisation completed (see initialise). */
async function isInitialised(dataDir: string): Promise<boolean> {
  return unlessMissing(access(path.join(dataDir, 'mysql')).then(() => true), false);
}

/**
 * Installs the system tables into a sibling directory and renames it into
 * place, so a run killed half-way leaves no half-initialised dataDir that a
 * later start would mistake for a complete one. An existing empty dataDir
 * (e.g. made by the caller) is replaced; a non-empty one is not ours to touch.
 */
async function initialise(installDb: string, dataDir: string, asRoot: boolean, appendToLog: (text: string) => void): Promise<void> {
  const existing = await unlessMissing(readdir(dataDir), []);
  if (existing.length > 0) throw new Error(`${dataDir} is not empty and holds no MariaDB system schema; choose an empty or new directory`);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const staging = `${dataDir}.init-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const args = [
    '--no-defaults',
    `--datadir=${staging}`,
    // Password logins for root (over TCP) instead of the unix_socket plugin, which maps root to the OS user.
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    '--skip-name-resolve',
    ...(asRoot ? ['--user=root'] : []),
  ];
  const result = await runCommand(installDb, args, { timeoutMs: INSTALL_TIMEOUT_MS });
  appendToLog(`${result.stdout}\n${result.stderr}\n`);
  if (result.code !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`Could not initialise a MariaDB data directory in ${dataDir}: ${describeFailure(path.basename(installDb), result)}`);
  }
  await rm(dataDir, { recursive: true, force: true });
  await rename(staging, dataDir);
}

/**
 * A parent killed with SIGKILL off Linux (where no parent-death signal is
 * set), or one whose server is still shutting down, leaves a mariadbd holding
 * this dataDir's InnoDB lock; a new server would then fail with "Unable to
 * lock ./ibdata1". A leftover server on this very directory is ours: shut it
 * down cleanly. A pid file naming a dead or unrelated (reused pid) process is
 * stale: remove it.
 */
async function stopOrphanedServer(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, PID_FILE);
  const text = await unlessMissing(readFile(pidFile, 'utf8'), undefined);
  if (text === undefined) return;
  const pid = Number.parseInt(text.trim(), 10);
  if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) {
    const commandLine = await readCommandLine(pid);
    if (commandLine === undefined) {
      throw new Error(`${pidFile} names running process ${pid}, which could not be identified; stop it or remove the file`);
    }
    if (isServerFor(commandLine, dataDir)) {
      // SIGTERM is mariadbd's clean shutdown; SIGKILL is safe too, InnoDB recovers from its redo log.
      await terminateProcess(pid, 'SIGTERM', 'SIGKILL', STOP_GRACE_MS);
    }
  }
  await rm(pidFile, { force: true });
}

function isServerFor(commandLine: string, dataDir: string): boolean {
  const [executable = ''] = commandLine.split(' ');
  return ['mariadbd', 'mysqld'].includes(path.basename(executable)) && commandLine.includes(`--datadir=${dataDir}`);
}

/**
 * In the dataDir when the path fits a Unix socket address; else in the temp
 * directory, named by port, which is unique among live servers on the host.
 * Clients use TCP; the socket exists because mariadbd always creates one.
 */
function socketPath(dataDir: string, port: number): string {
  const inDataDir = path.join(dataDir, 'mariadbd.sock');
  return inDataDir.length <= MAX_SOCKET_PATH ? inDataDir : path.join(tmpdir(), `embedded-mariadb-${port}.sock`);
}

/**
 * Resolves once root logs in over TCP to the URL's database; rejects when the
 * deadline passes or the server refuses root. A server that exits first (lock
 * held, bad flag, port taken) is reported by waitUntilReady with its output.
 */
async function pollUntilLogin(url: string, deadline: number, isAbandoned: () => boolean, tail: OutputTail): Promise<void> {
  let lastError: unknown = new Error('no login attempted');
  while (!isAbandoned()) {
    if (Date.now() >= deadline) {
      throw new Error(`mariadbd on ${url} did not answer in time (last error: ${String(lastError)}):\n${tail.toString()}`, { cause: lastError });
    }
    // Straight to a login, no bare port probe first: a refused connection fails as fast, and the server logs
    // every connection closed before authenticating as an "Aborted connection" warning.
    try {
      await loginOnce(url);
      return;
    } catch (error) {
      // The init file runs before connections are accepted, so a refused login will not fix itself: say so now.
      if (isLoginRefusal(error)) throw new Error(`mariadbd on ${url} refused root: ${String(error)}\n${tail.toString()}`, { cause: error });
      // Otherwise expected while the server is still coming up (ECONNREFUSED); kept for the timeout message.
      lastError = error;
    }
    await sleep(READINESS_POLL_MS);
  }
}

async function loginOnce(url: string): Promise<void> {
  const connection = await mysql.createConnection({ uri: url, connectTimeout: 2_000 });
  try {
    await connection.query('SELECT 1');
  } catch (error) {
    // A polite end() on a broken connection fails too and would hide this error; drop the socket instead.
    connection.destroy();
    throw error;
  }
  await connection.end();
}

function isLoginRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_BAD_DB_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR';
}
