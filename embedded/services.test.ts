// Real redis-server and mariadbd processes, no mocks: the private instances that
// tests and benchmarks use when REDIS_URL / MARIADB_URL are unset.
import { access, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findMariaDbBinaries, startEmbeddedMariaDb, type EmbeddedMariaDbServer } from './mariadb.js';
import { findFreePort, isPortAccepting } from './ports.js';
import { startInKilledParent } from './killed-parent.js';
import { isProcessAlive, waitForProcessExit } from './processes.js';
import { findRedisServer, startEmbeddedRedis, type EmbeddedRedisServer } from './redis.js';

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'embedded-services-test-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('embedded redis', () => {
  let server: EmbeddedRedisServer | undefined;

  afterAll(async () => {
    await server?.stop();
  });

  it('answers PING, starts empty again on the same port after a stop, and stops', async () => {
    const port = await findFreePort();
    const started = Date.now();
    server = await startEmbeddedRedis({ port, logFile: path.join(scratch, 'redis.log') });
    const firstStartMs = Date.now() - started;
    expect(server.url).toBe(`redis://127.0.0.1:${port}`);
    await withRedis(server.url, async (redis) => {
      expect(await redis.ping()).toBe('PONG');
      await redis.set('survives-restart', 'no');
    });

    const firstPid = server.pid;
    const workDir = await readlink(`/proc/${firstPid}/cwd`);
    await server.stop();
    expect(isProcessAlive(firstPid)).toBe(false);
    expect(await isPortAccepting(port)).toBe(false);
    // The private working directory goes with the server.
    await expect(access(workDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(path.join(scratch, 'redis.log'), 'utf8')).toMatch(/Ready to accept connections/);

    const restarted = Date.now();
    server = await startEmbeddedRedis({ port });
    const restartMs = Date.now() - restarted;
    expect(server.pid).not.toBe(firstPid);
    await withRedis(server.url, async (redis) => {
      expect(await redis.get('survives-restart')).toBeNull();
    });
    await server.stop();
    expect(await isPortAccepting(port)).toBe(false);
    console.info(`embedded redis: first start ${firstStartMs} ms, restart on same port ${restartMs} ms`);
  });

  it('refuses a port that is already taken instead of answering through the other server', async () => {
    const holder = createServer();
    const port = await findFreePort();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      await expect(startEmbeddedRedis({ port })).rejects.toThrow(/already in use/);
    } finally {
      await new Promise<void>((resolve, reject) => holder.close((error) => (error ? reject(error) : resolve())));
    }
  });

  it('does not outlive a parent killed with SIGKILL', async () => {
    // The parent reads Redis's private temp dir before it is killed: on a busy machine Redis may be
    // gone (as it should) before the test could look.
    const { pid, workDir } = await startInKilledParent<{ pid: number; workDir: string }>(`
      const { readlinkSync } = await import('node:fs');
      const { startEmbeddedRedis } = await import('./embedded/redis.ts');
      const server = await startEmbeddedRedis();
      console.log(JSON.stringify({ pid: server.pid, workDir: readlinkSync('/proc/' + server.pid + '/cwd') }));
    `);
    // With no stop() to remove the temp dir, the test does.
    expect(await waitForProcessExit(pid, 10_000)).toBe(true);
    expect(path.basename(workDir)).toMatch(/^embedded-redis-/);
    await rm(workDir, { recursive: true, force: true });
  });

  it('names the package to install when redis-server is missing', async () => {
    await expect(findRedisServer([path.join(scratch, 'no-such-dir')])).rejects.toThrow(
      'redis-server not found: apt-get install redis-server (or set REDIS_URL)',
    );
  });
});

describe('embedded mariadb', () => {
  let server: EmbeddedMariaDbServer | undefined;

  afterAll(async () => {
    await server?.stop();
  });

  it('initialises a private data dir, keeps a table across stop and start, and stops', async () => {
    const dataDir = path.join(scratch, 'mariadb');
    const port = await findFreePort();
    const started = Date.now();
    server = await startEmbeddedMariaDb({ dataDir, port, logFile: path.join(scratch, 'mariadb.log') });
    const firstStartMs = Date.now() - started;
    expect(server.url).toBe(`mysql://root@127.0.0.1:${port}/test`);
    await withMysql(server.url, async (connection) => {
      await connection.query('CREATE TABLE survivor (id INT PRIMARY KEY, name VARCHAR(100))');
      await connection.query('INSERT INTO survivor VALUES (1, ?)', ['Ада Лавлейс 🎉']);
    });

    const firstPid = server.pid;
    await server.stop();
    expect(isProcessAlive(firstPid)).toBe(false);
    expect(await isPortAccepting(port)).toBe(false);
    // One log for the bootstrap and the server, in that order.
    expect(await readFile(path.join(scratch, 'mariadb.log'), 'utf8')).toMatch(/Installing MariaDB\/MySQL system tables[\s\S]*ready for connections/);

    const restarted = Date.now();
    server = await startEmbeddedMariaDb({ dataDir, port });
    const restartMs = Date.now() - restarted;
    await withMysql(server.url, async (connection) => {
      const [rows] = await connection.query('SELECT name, @@character_set_server AS charset FROM survivor');
      // utf8mb4 end to end: a four-byte emoji comes back intact instead of failing or turning into '?'.
      expect(rows).toEqual([{ name: 'Ада Лавлейс 🎉', charset: 'utf8mb4' }]);
    });
    await server.stop();
    expect(await isPortAccepting(port)).toBe(false);
    console.info(`embedded mariadb: first start (install-db) ${firstStartMs} ms, restart ${restartMs} ms`);
  });

  it('takes over a data dir whose parent was killed with SIGKILL, data intact', async () => {
    const dataDir = path.join(scratch, 'mariadb-orphan');
    server = await startEmbeddedMariaDb({ dataDir });
    await withMysql(server.url, (connection) => connection.query('CREATE TABLE kept (id INT PRIMARY KEY)'));
    await withMysql(server.url, (connection) => connection.query('INSERT INTO kept VALUES (7)'));
    await server.stop();

    const { pid } = await startInKilledParent(`
      const { startEmbeddedMariaDb } = await import('./embedded/mariadb.ts');
      const server = await startEmbeddedMariaDb({ dataDir: ${JSON.stringify(dataDir)} });
      console.log(JSON.stringify({ pid: server.pid }));
    `);
    // The parent-death signal shuts the orphan down on its own (a clean InnoDB shutdown).
    expect(await waitForProcessExit(pid, 30_000)).toBe(true);
    server = await startEmbeddedMariaDb({ dataDir });
    await withMysql(server.url, async (connection) => {
      const [rows] = await connection.query('SELECT id FROM kept');
      expect(rows).toEqual([{ id: 7 }]);
    });
    await server.stop();
  });

  it('shuts down a server still running on the data dir instead of waiting for its InnoDB lock', async () => {
    const dataDir = path.join(scratch, 'mariadb-leftover');
    // What a parent killed off Linux (no parent-death signal) leaves: a live server on the data dir.
    const leftover = await startEmbeddedMariaDb({ dataDir });
    try {
      // A short deadline: without the take-over, mariadbd waits ~100 s for the lock and this would time out.
      server = await startEmbeddedMariaDb({ dataDir, startTimeoutMs: 20_000 });
      expect(isProcessAlive(leftover.pid)).toBe(false);
      await withMysql(server.url, (connection) => connection.query('SELECT 1'));
      await server.stop();
    } finally {
      await leftover.stop();
    }
  });

  it('names the package to install when mariadbd is missing', async () => {
    await expect(findMariaDbBinaries([path.join(scratch, 'no-such-dir')])).rejects.toThrow(/^mariadbd not found: apt-get install mariadb-server/);
  });
});

async function withRedis(url: string, use: (redis: Redis) => Promise<void>): Promise<void> {
  // No reconnects and no offline queue: a command against a stopped server must fail, not wait.
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  await redis.connect();
  try {
    await use(redis);
  } finally {
    await redis.quit();
  }
}

async function withMysql<T>(url: string, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ uri: url, charset: 'utf8mb4' });
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}
