// API keys belong to one project. The key is shown once at creation; the hub
// keeps only its SHA-256 (keys are 256 random bits, so a slow hash adds nothing).
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/client.js';

const keyPrefix = 'chk_';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function looksLikeApiKey(key: string): boolean {
  return key.startsWith(keyPrefix) && key.length >= 20 && key.length <= 200;
}

export async function issueApiKey(db: Db, projectId: string, label = ''): Promise<string> {
  const key = `${keyPrefix}${randomBytes(32).toString('base64url')}`;
  await db.apiKey.create({ data: { projectId, label, prefix: key.slice(0, 10), hash: hashApiKey(key) } });
  return key;
}

export interface AuthenticatedProject {
  id: string;
  slug: string;
  defaultRegion: string;
}

/** Looks a key up, with a short cache: a revoked key stops working within `ttlMs`. */
export class ApiKeyResolver {
  private readonly cache = new Map<string, { project: AuthenticatedProject | null; expires: number }>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 30_000,
  ) {}

  async resolve(key: string): Promise<AuthenticatedProject | null> {
    const hash = hashApiKey(key);
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.expires > now) return cached.project;
    const row = await this.db.apiKey.findUnique({
      where: { hash },
      select: { revokedAt: true, project: { select: { id: true, slug: true, defaultRegion: true } } },
    });
    const project = row && !row.revokedAt ? row.project : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { project, expires: now + this.ttlMs });
    return project;
  }
}
