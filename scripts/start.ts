// `npm start`: the whole hub on one machine with nothing installed by hand.
// Unset DATABASE_URL -> embedded PostgreSQL under DATA_DIR/pg (kept across runs).
// Unset TEMPORAL_ADDRESS -> `temporal server start-dev` on DATA_DIR/temporal.db with its UI.
// Then: migrations, a demo project on first run, the worker, the API and the
// telephony process (SIP on the drachtio stand-in unless DRACHTIO_HOST is set,
// rtpengine when installed) as child processes, and the URLs. Ctrl-C stops
// everything in reverse order.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { ensureDemoCrm } from '../connectors/sql-crm/demo/crm.js';
import { defaultRegistry } from '../connectors/registry.js';
import { ConnectorInstances } from '../core/connectors/instances.js';
import { loadConfig, publicUrl, telephonyControlUrl, type Config } from '../core/config.js';
import { createDb } from '../core/db/client.js';
import { createProject } from '../core/projects/projects.js';
import { SecretBox } from '../core/secrets/secret-box.js';
import { startEmbeddedPostgres } from '../embedded/postgres.js';
import { ensureTemporalBinary } from '../embedded/temporal-binary.js';
import { startTemporalDevServer } from '../embedded/temporal-server.js';
import { applyMigrations } from '../prisma/tooling/migrations.js';
import { repoRoot } from '../prisma/tooling/paths.js';
import { devServerSearchAttributes } from '../worker/search-attributes.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const stops: { name: string; stop: () => Promise<void> }[] = [];
const children: ChildProcess[] = [];
let shuttingDown = false;

async function main(): Promise<void> {
  const config = loadConfig();
  const dataDir = resolve(repoRoot, config.DATA_DIR);
  await mkdir(dataDir, { recursive: true });

  const databaseUrl = await startDatabase(config, dataDir);
  const migrated = await applyMigrations(databaseUrl);
  say(`database    ${redact(databaseUrl)} (${migrated.applied.length} migration(s) applied now)`);

  const temporal = await startTemporal(config, dataDir);
  const secretKey = config.CONNECTOR_SECRET_KEY ?? (await localSecretKey(dataDir));
  const demo = await seedDemoProject(databaseUrl, dataDir, new SecretBox(secretKey));

  const env = { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporal.address, CONNECTOR_SECRET_KEY: secretKey };
  spawnService('worker', 'worker/main.ts', env);
  spawnService('api', 'api/main.ts', env);
  if (config.TELEPHONY === 'on') spawnService('telephony', 'telephony/main.ts', env);
  await waitForHealth(`${publicUrl(config)}/healthz`);
  const telephony = config.TELEPHONY === 'on' ? await waitForTelephony(config) : undefined;

  const api = publicUrl(config);
  say('');
  say('The contact hub is running.');
  say(`  API           ${api}`);
  say(`  API docs      ${api}/docs`);
  say(`  Health        ${api}/healthz`);
  if (temporal.uiUrl) say(`  Temporal UI   ${temporal.uiUrl}`);
  say(`  Temporal      ${temporal.address}`);
  if (telephony) {
    say(`  SIP           udp ${telephony.sip.address}:${telephony.sip.port} (${config.DRACHTIO_HOST ? `drachtio-server ${config.DRACHTIO_HOST}:${config.DRACHTIO_PORT}` : 'drachtio-server stand-in'})`);
    say(`  IVR media     ${telephony.media}`);
    say(`  Telephony     ${telephony.controlUrl}/healthz (agent presence: PUT ${api}/v1/agents/<agent>/presence)`);
  } else {
    say('  SIP           off (TELEPHONY=off)');
  }
  if (demo) {
    say(`  Demo API key  ${demo.keyFile}${demo.created ? ' (new)' : ''}`);
    say('');
    say('Try it:');
    say(`  curl -s -X POST ${api}/v1/tasks -H "Authorization: Bearer $(cat ${demo.keyFile})" \\`);
    say(`    -H 'Content-Type: application/json' -d '{"phone":"+1 415 555 2671","name":"Ada Lovelace","applicationNumber":"A-1"}'`);
  }
  say('');
  say('Ctrl-C stops everything.');
}

async function startDatabase(config: Config, dataDir: string): Promise<string> {
  if (config.DATABASE_URL) return config.DATABASE_URL;
  const server = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pg'), port: config.EMBEDDED_POSTGRES_PORT });
  stops.push({ name: 'PostgreSQL', stop: () => server.stop() });
  await createDatabaseIfMissing(server.url, 'hub');
  const url = new URL(server.url);
  url.pathname = '/hub';
  return url.toString();
}

async function startTemporal(config: Config, dataDir: string): Promise<{ address: string; uiUrl?: string }> {
  if (config.TEMPORAL_ADDRESS) {
    return { address: config.TEMPORAL_ADDRESS };
  }
  const binary = await ensureTemporalBinary(repoRoot);
  const server = await startTemporalDevServer({
    binary,
    port: config.EMBEDDED_TEMPORAL_PORT,
    uiPort: config.EMBEDDED_TEMPORAL_UI_PORT,
    dbFile: join(dataDir, 'temporal.db'),
    namespace: config.TEMPORAL_NAMESPACE,
    searchAttributes: devServerSearchAttributes(),
    logFile: join(dataDir, 'temporal.log'),
  });
  stops.push({ name: 'Temporal', stop: () => server.stop() });
  return { address: server.address, ...(server.uiUrl ? { uiUrl: server.uiUrl } : {}) };
}

/** On an empty database: a "demo" project, its API key in a file, and a demo SQL CRM as its primary CRM. */
async function seedDemoProject(databaseUrl: string, dataDir: string, secretBox: SecretBox): Promise<{ keyFile: string; created: boolean } | undefined> {
  const keyFile = join(dataDir, 'demo-api-key');
  const db = createDb(databaseUrl, { poolSize: 2 });
  try {
    const existing = await db.project.findUnique({ where: { slug: 'demo' } });
    if (existing) return { keyFile, created: false };
    if ((await db.project.count()) > 0) return undefined;
    const { id, apiKey } = await createProject(db, { slug: 'demo', name: 'Demo project', defaultRegion: 'US' });
    await writeFile(keyFile, `${apiKey}\n`, { mode: 0o600 });
    const crmUrl = await ensureDemoCrm(databaseUrl, 'demo_crm');
    await new ConnectorInstances(db, defaultRegistry(), secretBox).create(id, {
      kind: 'sql-crm',
      name: 'demo-crm',
      isPrimary: true,
      config: { connectionString: crmUrl },
    });
    return { keyFile, created: true };
  } finally {
    await db.$disconnect();
  }
}

/** The key that seals connector credentials, made once and kept beside the embedded data. */
async function localSecretKey(dataDir: string): Promise<string> {
  const file = join(dataDir, 'connector-secret.key');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const key = SecretBox.generateKey();
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    return key;
  }
}

async function createDatabaseIfMissing(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

function spawnService(name: string, entry: string, env: NodeJS.ProcessEnv): void {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, entry)], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (shuttingDown) return;
    say(`${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the hub.`);
    void shutdown(1);
  });
}

interface TelephonyHealth {
  sip: { address: string; port: number };
  media: string;
  controlUrl: string;
}

/** The telephony process's own health answer: where SIP listens and whether IVR media is there. */
async function waitForTelephony(config: Config, timeoutMs = 90_000): Promise<TelephonyHealth> {
  const controlUrl = telephonyControlUrl(config);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${controlUrl}/healthz`);
      if (response.ok) {
        const body = (await response.json()) as { sip: { address: string; port: number }; media: string };
        return { sip: body.sip, media: body.media, controlUrl };
      }
      last = await response.text();
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((done) => setTimeout(done, 500));
  }
  throw new Error(`the telephony process did not answer ${controlUrl}/healthz within ${timeoutMs / 1000} s: ${last}`);
}

async function waitForHealth(url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
      last = await response.text();
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((done) => setTimeout(done, 500));
  }
  throw new Error(`the hub did not become healthy within ${timeoutMs / 1000} s: ${last}`);
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  say('Stopping...');
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
          child.once('exit', () => {
            clearTimeout(force);
            done();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  for (const { name, stop } of stops.reverse()) {
    try {
      await stop();
    } catch (error) {
      say(`could not stop ${name} cleanly: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

main().catch((error: unknown) => {
  say(`start failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  void shutdown(1);
});
