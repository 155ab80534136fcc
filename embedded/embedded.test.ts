// Real processes, no mocks: these are the servers every other suite, the start
// command and the benchmarks stand on.
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from './postgres.js';
import { findFreePort } from './ports.js';
import { startInKilledParent } from './killed-parent.js';
import { isProcessAlive, runCommand, waitForProcessExit } from './processes.js';
import { ensureTemporalBinary, installTemporalBinary } from './temporal-binary.js';
import { startTemporalDevServer, type TemporalDevServer } from './temporal-server.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let scratch: string;
let binary: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'embedded-test-'));
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter this directory.
  await chmod(scratch, 0o755);
  binary = await ensureTemporalBinary(projectRoot);
}, 300_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('temporal binary', () => {
  it('resolves to a CLI that runs', async () => {
    const result = await runCommand(binary, ['--version'], { timeoutMs: 15_000 });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^temporal version \d+\.\d+\.\d+/);
  });

  it('rejects an explicit path that is not the Temporal CLI instead of falling back', async () => {
    await expect(ensureTemporalBinary(projectRoot, '/bin/true')).rejects.toThrow(/not the Temporal CLI/);
  });

  it('installs once for concurrent callers and breaks a dead installer lock', async () => {
    const root = path.join(scratch, 'install-root');
    const lockDir = path.join(root, '.tools', 'temporal.lock');
    await mkdir(lockDir, { recursive: true });
    const owner = { pid: deadPid(), host: hostname(), token: 'dead', createdAt: Date.now() };
    await writeFile(path.join(lockDir, 'owner.json'), JSON.stringify(owner));

    const paths = await Promise.all([1, 2, 3].map(() => installTemporalBinary(root)));

    expect(new Set(paths)).toEqual(new Set([path.join(root, '.tools', 'temporal', 'bin', 'temporal')]));
    expect(await readdir(path.join(root, '.tools'))).toEqual(['temporal']);
  }, 300_000);
});

describe('temporal dev server', () => {
  let server: TemporalDevServer | undefined;

  afterAll(async () => {
    await server?.stop();
  });

  it('answers, stops, and restarts on the same port and db file with its workflows', async () => {
    const dbFile = path.join(scratch, 'temporal', 'dev.db');
    const port = await findFreePort();
    const started = Date.now();
    server = await startTemporalDevServer({ binary, port, dbFile, searchAttributes: { HubCallId: 'Keyword', HubAttempt: 'Int' } });
    const firstStartMs = Date.now() - started;
    expect(server.address).toBe(`127.0.0.1:${port}`);
    expect(server.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const workflowId = `embedded-test-${Date.now()}`;
    await withClient(server.address, async (client, connection) => {
      const attributes = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(attributes.customAttributes ?? {})).toEqual(expect.arrayContaining(['HubCallId', 'HubAttempt']));
      // Nobody polls 'none': the execution just stays RUNNING, which is all persistence needs to show.
      await client.workflow.start('noWorkerNeeded', { taskQueue: 'none', workflowId });
    });

    const firstPid = server.pid;
    await server.stop();
    expect(isProcessAlive(firstPid)).toBe(false);
    await expect(connectOnce(server.address)).rejects.toThrow();

    const restarted = Date.now();
    server = await startTemporalDevServer({ binary, port, uiPort: false, dbFile, searchAttributes: { HubCallId: 'Keyword', HubAttempt: 'Int' } });
    const restartMs = Date.now() - restarted;
    expect(server.uiUrl).toBeUndefined();
    const description = await withClient(server.address, (client) => client.workflow.getHandle(workflowId).describe());
    expect(description.status.name).toBe('RUNNING');
    console.info(`temporal dev server: first start ${firstStartMs} ms, restart on same db ${restartMs} ms`);
  });

  it('refuses a port that is already taken instead of talking to the other server', async () => {
    const holder = server ?? (await startTemporalDevServer({ binary, uiPort: false }));
    const port = Number(holder.address.split(':')[1]);
    await expect(startTemporalDevServer({ binary, port, uiPort: false })).rejects.toThrow(/already in use/);
    if (holder !== server) await holder.stop();
  });

  it('does not outlive a parent killed with SIGKILL', async () => {
    const { pid } = await startInKilledParent(`
      const { startTemporalDevServer } = await import('./embedded/temporal-server.ts');
      const server = await startTemporalDevServer({ binary: ${JSON.stringify(binary)}, uiPort: false });
      console.log(JSON.stringify({ pid: server.pid }));
    `);
    expect(await waitForProcessExit(pid, 15_000)).toBe(true);
  });

  it('fails fast with the server output when the CLI rejects its arguments', async () => {
    const started = Date.now();
    const badType = 'NotAType' as unknown as 'Keyword';
    await expect(startTemporalDevServer({ binary, uiPort: false, searchAttributes: { Broken: badType } })).rejects.toThrow(
      /exited \(code 1\) before answering[\s\S]*invalid search attribute value type "NotAType"/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('embedded postgres', () => {
  let database: EmbeddedPostgresServer | undefined;

  afterAll(async () => {
    await database?.stop();
  });

  it('keeps rows across stop and start, and clears a stale pid file', async () => {
    const dataDir = path.join(scratch, 'pg');
    const started = Date.now();
    database = await startEmbeddedPostgres({ dataDir });
    const firstStartMs = Date.now() - started;
    expect(database.url).toBe(`postgres://postgres:postgres@127.0.0.1:${database.port}/postgres`);
    await query(database.url, 'CREATE TABLE survivor (id int PRIMARY KEY, name text)');
    await query(database.url, "INSERT INTO survivor VALUES (1, 'Zoë')");
    await database.stop();

    // What a SIGKILLed run leaves behind: a pid file naming a process that no longer exists.
    await writeFile(path.join(dataDir, 'postmaster.pid'), `${deadPid()}\n${dataDir}\n`);

    const restarted = Date.now();
    database = await startEmbeddedPostgres({ dataDir, port: await findFreePort() });
    const restartMs = Date.now() - restarted;
    const rows = await query(database.url, 'SELECT name, current_setting($1) AS encoding FROM survivor', ['server_encoding']);
    expect(rows).toEqual([{ name: 'Zoë', encoding: 'UTF8' }]);
    console.info(`embedded postgres: first start (initdb) ${firstStartMs} ms, restart ${restartMs} ms`);
  });
});

async function withClient<T>(address: string, use: (client: Client, connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address });
  try {
    return await use(new Client({ connection }), connection);
  } finally {
    await connection.close();
  }
}

async function connectOnce(address: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  await connection.close();
}

async function query(url: string, sql: string, values: unknown[] = []): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** The pid of a process that has certainly exited (and been reaped by us). */
function deadPid(): number {
  const { pid } = spawnSync('true');
  if (pid === undefined) throw new Error('could not spawn `true` to obtain a dead pid');
  return pid;
}
