import { createMiddleware } from 'hono/factory';
import { looksLikeApiKey, type ApiKeyResolver, type AuthenticatedProject } from '../core/projects/api-keys.js';
import { ProblemError } from './problem.js';

export type AuthEnv = { Variables: { project: AuthenticatedProject } };

const challenge = { 'www-authenticate': 'Bearer realm="contact-hub"' };

/** Requires `Authorization: Bearer <project API key>` and puts the project on the context. */
export function requireProject(keys: ApiKeyResolver) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) {
      throw new ProblemError(401, 'Unauthorized', 'Send the project API key as "Authorization: Bearer <key>".', [
        { field: 'header.authorization', message: 'missing' },
      ], challenge);
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1] || !looksLikeApiKey(match[1])) {
      throw new ProblemError(401, 'Unauthorized', 'The Authorization header is not "Bearer <key>" with a hub API key.', [
        { field: 'header.authorization', message: 'malformed' },
      ], challenge);
    }
    const project = await keys.resolve(match[1]);
    if (!project) {
      throw new ProblemError(401, 'Unauthorized', 'The API key is unknown or revoked, or its project no longer exists.', [
        { field: 'header.authorization', message: 'unknown key' },
      ], challenge);
    }
    c.set('project', project);
    await next();
  });
}
