import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, type WriteStream } from 'node:fs';
import { access, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { findFreePort, isPortAccepting } from './ports.js';
import { describeFailure, hasExited, isProcessAlive, OutputTail, readCommandLine, runCommand, settlesWithin, terminateProcess, waitForChildExit } from './processes.js';

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
  const logStream = options.logFile === undefined ? undefined : await openLogStream(options.logFile);
  try {
    if (!(await isInitialised(dataDir))) await initialise(binaries.installDb, dataDir, asRoot, logStream);
    await stopOrphanedServer(dataDir);
    // A login probe cannot tell servers apart: with the port taken it would reach the other one while ours fails to bind.
    if (await isPortAccepting(port, HOST)) throw new Error(`Cannot start the embedded MariaDB: ${HOST}:${port} is already in use`);
    await writeFile(path.join(dataDir, INIT_FILE), INIT_SQL);
  } catch (error) {
    await closeLogStream(logStream);
    throw error;
  }

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
  const { child, tail } = spawnTiedToParent(binaries.server, args, logStream);
  const stop = stopOnce(child, () => closeLogStream(logStream));
  const url = `mysql://root@${HOST}:${port}/${DATABASE}`;
  try {
    await waitUntilAnswering(child, tail, url, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, dataDir, pid: child.pid as number, stop };
}

/**
 * mariadbd and mariadb-install-db (or their mysqld / mysql_install_db names)
 * from PATH, else from where Debian and Homebrew install them: a non-root
 * user's PATH usually lacks /usr/sbin, home of mariadbd.
 */
export async function findMariaDbBinaries(searchDirs: readonly string[] = defaultSearchDirs()): Promise<MariaDbBinaries> {
  const server = (await findExecutable('mariadbd', searchDirs)) ?? (await findExecutable('mysqld', searchDirs));
  if (server === undefined) throw new Error(`mariadbd not found: ${INSTALL_HINT}`);
  const installDb = (await findExecutable('mariadb-install-db', searchDirs)) ?? (await findExecutable('mysql_install_db', searchDirs));
  if (installDb === undefined) throw new Error(`mariadb-install-db not found: ${INSTALL_HINT}`);
  return { server, installDb };
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

/** The system schema exists only once an initialisation completed (see initialise). */
async function isInitialised(dataDir: string): Promise<boolean> {
  return access(path.join(dataDir, 'mysql')).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

/**
 * Installs the system tables into a sibling directory and renames it into
 * place, so a run killed half-way leaves no half-initialised dataDir that a
 * later start would mistake for a complete one. An existing empty dataDir
 * (e.g. made by the caller) is replaced; a non-empty one is not ours to touch.
 */
async function initialise(installDb: string, dataDir: string, asRoot: boolean, logStream: WriteStream | undefined): Promise<void> {
  const existing = await readdir(dataDir).then(
    (entries) => entries,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    },
  );
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
  logStream?.write(`${result.stdout}\n${result.stderr}\n`);
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
  const text = await readFile(pidFile, 'utf8').then(
    (content) => content,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    },
  );
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
  // setpriv execs the server in place: the child's pid is the server's pid, as the pid file records it.
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
  if (!(await settlesWithin(exited, STOP_GRACE_MS))) throw new Error(`mariadbd (pid ${String(child.pid)}) did not exit after SIGTERM and SIGKILL`);
}

/**
 * Resolves once root logs in over TCP to the URL's database; rejects with the
 * server's own output when it exits first (lock held, bad flag, port taken) or
 * the deadline passes.
 */
async function waitUntilAnswering(child: ChildProcess, tail: OutputTail, url: string, timeoutMs: number): Promise<void> {
  let settled = false;
  const exitedEarly = new Promise<never>((_, reject) => {
    child.once('error', (error) => {
      if (!settled) reject(new Error(`Could not run mariadbd: ${error.message}`, { cause: error }));
    });
    child.once('exit', (code, signal) => {
      if (settled) return;
      const status = signal ? `signal ${signal}` : `code ${String(code)}`;
      reject(new Error(`mariadbd exited (${status}) before answering on ${url}:\n${tail.toString()}`));
    });
  });
  try {
    await Promise.race([exitedEarly, pollUntilLogin(url, Date.now() + timeoutMs, () => settled, tail)]);
  } finally {
    settled = true;
  }
}

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

async function openLogStream(logFile: string): Promise<WriteStream> {
  await mkdir(path.dirname(path.resolve(logFile)), { recursive: true });
  return createWriteStream(logFile, { flags: 'a' });
}

async function closeLogStream(stream: WriteStream | undefined): Promise<void> {
  if (stream === undefined) return;
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
