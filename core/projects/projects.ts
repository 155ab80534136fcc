import type { Db } from '../db/client.js';
import { isPhoneRegion } from '../phone.js';
import { issueApiKey } from './api-keys.js';

export interface NewProject {
  slug: string;
  name: string;
  defaultRegion: string;
  timezone?: string;
}

export class InvalidProjectError extends Error {}

/** Creates a project with its first API key; returns both (the key is shown only now). */
export async function createProject(db: Db, input: NewProject): Promise<{ id: string; apiKey: string }> {
  if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(input.slug)) {
    throw new InvalidProjectError('slug: lowercase letters, digits and dashes, 2-63 characters');
  }
  if (!isPhoneRegion(input.defaultRegion)) {
    throw new InvalidProjectError(`defaultRegion: "${input.defaultRegion}" is not a region code such as US or RU`);
  }
  const project = await db.project.create({
    data: { slug: input.slug, name: input.name, defaultRegion: input.defaultRegion, timezone: input.timezone ?? 'UTC' },
  });
  const apiKey = await issueApiKey(db, project.id, 'first key');
  return { id: project.id, apiKey };
}
