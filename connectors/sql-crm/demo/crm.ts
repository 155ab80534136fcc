// The demo CRM for the embedded default and the tests: a real PostgreSQL
// database shaped like a small legacy CRM, so the first start has somewhere to
// write contacts. Not used in production, where instances point at real CRMs.
import pg from 'pg';

const demoTableSql = `
  CREATE TABLE IF NOT EXISTS clients (
    id          bigserial PRIMARY KEY,
    phone       text NOT NULL UNIQUE,
    full_name   text,
    email       text,
    extra       jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now()
  )`;

/** Creates the database (if missing) and its clients table; returns its URL. */
export async function ensureDemoCrm(serverUrl: string, database: string): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  const crm = new pg.Client({ connectionString: url.toString() });
  await crm.connect();
  try {
    await crm.query(demoTableSql);
  } finally {
    await crm.end();
  }
  return url.toString();
}
