// The real stack for a benchmark: the servers named by DATABASE_URL /
// TEMPORAL_ADDRESS when set, else embedded ones in a scratch directory, a fresh
// hub database with migrations applied, and a project with an API key.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDemoCrm } from '../../connectors/sql-crm/demo/crm.js';
import { loadConfig } from '../../core/config.js';
import { runAdminSql, withDatabase } from '../../core/db/admin.js';
import { createDb, type Db } from '../../core/db/client.js';
import { defaultRegistry } from '../../connectors/registry.js';
import { ConnectorInstances } from '../../core/connectors/instances.js';
import { createProject } from '../../core/projects/projects.js';
import { SecretBox } from '../../core/secrets/secret-box.js';
import { startEmbeddedPostgres } from '../../embedded/postgres.js';
import { findFreePort } from '../../embedded/ports.js';
import { ensureTemporalBinary } from '../../embedded/temporal-binary.js';
import { startTemporalDevServer } from '../../embedded/temporal-server.js';
import { applyMigrations } from '../../prisma/tooling/migrations.js';
import { repoRoot } from '../../prisma/tooling/paths.js';
import { devServerSearchAttributes } from '../../worker/search-attributes.js';

export interface BenchStack {
  serverUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  db: Db;
  projectId: string;
  apiKey: string;
  /** The embedded servers' processes (absent when DATABASE_URL / TEMPORAL_ADDRESS name other servers): for CPU accounting. */
  serverProcesses: { temporalPid?: number; postgresDataDir?: string };
  /** Starts api/main.ts, worker/main.ts or telephony/main.ts as a child process on this stack. */
  spawnService(entry: 'api/main.ts' | 'worker/main.ts' | 'telephony/main.ts', env?: Record<string, string>): ChildProcess;
  stop(): Promise<void>;
}

export const log = (line: string) => process.stderr.write(`${line}\n`);

export async function startBenchStack(name: string): Promise<BenchStack> {
  const config = loadConfig();
  const workDir = await mkdtemp(join(tmpdir(), `hub-bench-${name}-`));
  await chmod(workDir, 0o755);
  const stops: (() => Promise<void>)[] = [];
  const children: ChildProcess[] = [];

  const serverProcesses: BenchStack['serverProcesses'] = {};
  let serverUrl: string;
  if (config.DATABASE_URL) {
    serverUrl = withDatabase(config.DATABASE_URL, 'postgres');
  } else {
    const server = await startEmbeddedPostgres({ dataDir: join(workDir, 'pg'), port: await findFreePort() });
    stops.push(() => server.stop());
    serverUrl = server.url;
    serverProcesses.postgresDataDir = server.dataDir;
    log(`bench: embedded PostgreSQL at ${server.url}`);
  }
  const database = `bench_${name}_${Date.now()}`;
  await runAdminSql(serverUrl, `CREATE DATABASE ${database}`);
  stops.push(() => runAdminSql(serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  const databaseUrl = withDatabase(serverUrl, database);
  await applyMigrations(databaseUrl);

  let temporalAddress = config.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    const server = await startTemporalDevServer({
      binary: await ensureTemporalBinary(repoRoot),
      uiPort: false,
      searchAttributes: devServerSearchAttributes(),
    });
    stops.push(() => server.stop());
    temporalAddress = server.address;
    serverProcesses.temporalPid = server.pid;
    log(`bench: embedded Temporal at ${temporalAddress}`);
  }

  const db = createDb(databaseUrl, { poolSize: 4 });
  stops.push(() => db.$disconnect());
  const { id: projectId, apiKey } = await createProject(db, { slug: `bench-${name}`, name: `Bench ${name}`, defaultRegion: 'US' });
  const crmUrl = await ensureDemoCrm(serverUrl, `${database}_crm`);
  stops.push(() => runAdminSql(serverUrl, `DROP DATABASE IF EXISTS ${database}_crm WITH (FORCE)`));
  const secretKey = SecretBox.generateKey();
  await new ConnectorInstances(db, defaultRegistry(), new SecretBox(secretKey)).create(projectId, {
    kind: 'sql-crm',
    name: 'demo-crm',
    isPrimary: true,
    config: { connectionString: crmUrl },
  });

  return {
    serverUrl,
    databaseUrl,
    temporalAddress,
    db,
    projectId,
    apiKey,
    serverProcesses,
    spawnService(entry, env = {}) {
      // BENCH_CPU_PROF=<dir>: the worker and the API write V8 CPU profiles to <dir>/worker and
      // <dir>/api when they stop (open them in DevTools, or see bench/support/profile-summary.ts).
      const service = entry === 'worker/main.ts' ? 'worker' : entry === 'telephony/main.ts' ? 'telephony' : 'api';
      const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(process.env.BENCH_CPU_PROF, service)}`] : [];
      const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(repoRoot, entry)], {
        cwd: repoRoot,
        env: { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, CONNECTOR_SECRET_KEY: secretKey, LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
      return child;
    },
    async stop() {
      await Promise.all(children.map((child) => stopChild(child)));
      for (const stop of stops.reverse()) await stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((done) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      done();
    });
    child.kill('SIGTERM');
  });
}



export async function waitForUrl(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((done) => setTimeout(done, 200));
    }
  }
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}
