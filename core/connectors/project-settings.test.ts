// The worker's cache of project settings on a real PostgreSQL: one read serves
// repeated calls, a change saved through the API's services reaches a listening
// cache by NOTIFY without waiting for the TTL, and the TTL bounds what a missed
// notification (a row edited by hand) can leave stale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubDatabase } from '../../test/support/hub.js';
import { createDb, type Db } from '../db/client.js';
import { createLogger } from '../logger.js';
import { createProject } from '../projects/projects.js';
import { ProjectReconciliation } from '../reconcile/project-rules.js';
import { ProjectSettingsCache } from './project-settings.js';

let db: Db;
let databaseUrl: string;
let drop: () => Promise<void>;
let projectId: string;
let instanceId: string;
const logger = createLogger('test', 'error');

beforeAll(async () => {
  const database = await createHubDatabase();
  drop = database.drop;
  databaseUrl = database.url;
  db = createDb(database.url);
  projectId = (await createProject(db, { slug: 'settings-cache', name: 'Settings', defaultRegion: 'RU' })).id;
  instanceId = (await db.connectorInstance.create({ data: { projectId, kind: 'sql-crm', name: 'crm-a', config: {}, isPrimary: true } })).id;
});
afterAll(async () => {
  await db?.$disconnect();
  await drop?.();
});

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

describe('ProjectSettingsCache', () => {
  it('reads a project once within the TTL and again after it', async () => {
    let now = 0;
    const cache = new ProjectSettingsCache(db, { ttlMs: 1_000, now: () => now });
    const first = await cache.get(projectId);
    expect(first.defaultRegion).toBe('RU');
    expect(first.instances.map((instance) => instance.name)).toEqual(['crm-a']);

    // A hand edit sends no notification: the cached copy stands until the TTL runs out.
    await db.connectorInstance.update({ where: { id: instanceId }, data: { name: 'crm-renamed' } });
    now = 999;
    expect((await cache.get(projectId)).instances[0]?.name).toBe('crm-a');
    now = 1_000;
    expect((await cache.get(projectId)).instances[0]?.name).toBe('crm-renamed');
  });

  it('drops a project as soon as the API saves new rules for it', async () => {
    const cache = new ProjectSettingsCache(db, { ttlMs: 60_000 });
    const stop = cache.listen(databaseUrl, logger);
    try {
      // LISTEN takes effect asynchronously; wait until a notification is heard.
      const rules = new ProjectReconciliation(db);
      expect((await cache.get(projectId)).rules.legacySources ?? []).toEqual([]);
      await rules.put(projectId, { legacySources: [instanceId] });
      const updated = await waitFor(async () => {
        const settings = await cache.get(projectId);
        return settings.rules.legacySources?.includes(instanceId) ? settings : undefined;
      }, 5_000);
      expect(updated.rules.legacySources).toEqual([instanceId]);

      // And back: a second change is heard the same way, well inside the 60 s TTL.
      await rules.put(projectId, { legacySources: [] });
      await waitFor(async () => ((await cache.get(projectId)).rules.legacySources?.length === 0 ? true : undefined), 5_000);
    } finally {
      await stop();
    }
  });

  it('reads every time with a TTL of 0 and does not keep a failed read', async () => {
    const cache = new ProjectSettingsCache(db, { ttlMs: 0 });
    await db.project.update({ where: { id: projectId }, data: { defaultRegion: 'US' } });
    expect((await cache.get(projectId)).defaultRegion).toBe('US');
    await db.project.update({ where: { id: projectId }, data: { defaultRegion: 'GB' } });
    expect((await cache.get(projectId)).defaultRegion).toBe('GB');

    const caching = new ProjectSettingsCache(db, { ttlMs: 60_000 });
    const missing = '00000000-0000-4000-8000-000000000000';
    await expect(caching.get(missing)).rejects.toThrow(/No project/);
    await expect(caching.get(missing)).rejects.toThrow(/No project/);
  });
});
