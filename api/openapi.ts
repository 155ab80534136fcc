// OpenAPI plumbing shared by the routes: the validation hook that turns zod
// failures into problem+json, the problem response schema, and the /docs page
// (Swagger UI served from node_modules so it works offline).
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z, type Hook, type OpenAPIHono } from '@hono/zod-openapi';
import { fieldErrorsFrom } from '../core/validation.js';
import { ProblemError } from './problem.js';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

const problemTitles: Record<number, string> = {
  400: 'Malformed request',
  401: 'Missing, malformed or unknown API key',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'The body is not JSON in UTF-8 (errors[] names header.content-type)',
  422: 'Invalid fields (see errors[])',
  503: 'A dependency is unavailable',
};

export function problemResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: problemTitles[status] ?? 'Problem', content: { 'application/problem+json': { schema: problemSchema } } },
    ]),
  ) as Record<S, { description: string; content: { 'application/problem+json': { schema: typeof problemSchema } } }>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the hook is shared by routes of every shape
export const validationHook: Hook<any, any, any, any> = (result, c) => {
  // With no Content-Type the JSON validator sees {} rather than nothing: a bare PUT of the
  // reconciliation rules would reset them to the defaults. Every JSON body the API declares is
  // required; a body without a Content-Type was already refused (415), so none was sent.
  if (result.target === 'json' && c.req.header('content-type') === undefined) {
    throw new ProblemError(400, 'Body required', 'This request needs a JSON body (Content-Type: application/json).', [{ field: '(body)', message: 'missing' }]);
  }
  if (!result.success) {
    const where = result.target === 'json' ? [] : [result.target === 'param' ? 'path' : result.target];
    throw new ProblemError(422, 'Invalid request', 'The request has invalid fields.', fieldErrorsFrom(result.error, where));
  }
};

const require = createRequire(import.meta.url);
const swaggerDir = dirname(require.resolve('swagger-ui-dist/package.json'));

const docsPage = (specUrl: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Contact hub API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: ${JSON.stringify(specUrl)}, dom_id: '#ui', persistAuthorization: true });</script>
</body></html>`;

const assetTypes: Record<string, string> = { '.css': 'text/css', '.js': 'text/javascript' };

export function mountDocs(app: OpenAPIHono, specUrl: string): void {
  app.get('/docs', (c) => c.html(docsPage(specUrl)));
  app.get('/docs/assets/:file{swagger-ui(-bundle)?\\.(css|js)}', async (c) => {
    const file = c.req.param('file');
    const body = await readFile(join(swaggerDir, file));
    const type = assetTypes[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
    return c.body(body, 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
}
