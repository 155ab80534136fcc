// The agent page: what an agent sees beside a call, in an iFrame of the CRM or desktop they work
// in. `POST /v1/agent-pages` (project API key) makes a link for one agent, one contact and one
// script; the page at /agent/<token> shows the contact's card (the screen pop, every CRM merged)
// and the script, and saves the answers to the contact (core/agent-desk). The token is the page's
// only credential: the page and its two JSON calls take nothing else, and no response is cached
// or sent with a Referer.
import { readFileSync } from 'node:fs';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AgentAnswersError, type AgentAnswers } from '../../core/agent-desk/agent-answers.js';
import { PageLinkError, type AgentPageLinks, type PageGrant } from '../../core/agent-desk/page-links.js';
import { questionFieldName, scriptAnswers, type AgentScripts, type ScriptView } from '../../core/agent-desk/scripts.js';
import type { ScreenPopService } from '../../core/screenpop/service.js';
import type { FieldError } from '../../core/validation.js';
import type { CallbackStore } from '../../telephony/callbacks/callback-store.js';
import { TelephonyConfigError } from '../../telephony/config-errors.js';
import type { AuthEnv } from '../auth.js';
import { problemResponses, validationHook } from '../openapi.js';
import { ProblemError, validationProblem } from '../problem.js';

const json = <S extends z.ZodType>(schema: S) => ({ content: { 'application/json': { schema } } });

const asset = (file: string) => readFileSync(new URL(`../agent-page/${file}`, import.meta.url), 'utf8');
const pageHtml = asset('page.html');
const pageScript = asset('page.js');
const pageStyle = asset('page.css');

/** Headers of every /agent response: nothing cached, no Referer carrying the token, only the page's own script and style. */
const pageHeaders = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'",
};

const linkBody = z
  .record(z.string(), z.unknown())
  .describe('agent, phone, script, callId?, ttlSeconds? (60 to 86400, default 14400), callback? ({ queue, callerId? }: the agent may book a callback from the page)')
  .openapi('AgentPageLinkInput');

const linkView = z
  .object({
    token: z.string().describe('Shown once'),
    path: z.string().describe('The page, on the API origin: /agent/<token>'),
    expiresAt: z.string(),
    agent: z.string(),
    phone: z.string(),
    script: z.string(),
    callback: z.object({ queue: z.string(), callerId: z.string().optional() }).nullable(),
  })
  .openapi('AgentPageLink');

export interface AgentPageDeps {
  links: AgentPageLinks;
  scripts: AgentScripts;
  answers: AgentAnswers;
  screenPop: ScreenPopService;
  callbacks: CallbackStore;
}

/** `POST /v1/agent-pages`, under the project API key. */
export function agentPageLinkRoutes({ links }: Pick<AgentPageDeps, 'links'>) {
  const app = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['Agent desk'],
      summary: 'A link to the agent page for one agent, contact and script (embed /agent/<token> in an iFrame)',
      security: [{ bearer: [] }],
      request: { body: { required: true, ...json(linkBody) } },
      responses: { 201: { description: 'Link made; the token is not shown again', ...json(linkView) }, ...problemResponses(400, 401, 415, 422) },
    }),
    async (c) => {
      const link = await links.create(c.get('project'), c.req.valid('json')).catch((error: unknown) => {
        if (error instanceof PageLinkError) throw validationProblem(error.errors, 'The page link is invalid.');
        throw error;
      });
      c.header('cache-control', 'no-store');
      return c.json(link, 201);
    },
  );
  return app;
}

/** The page itself and its JSON calls under /agent, authorized by the link's token. */
export function agentPageRoutes(deps: AgentPageDeps) {
  const app = new OpenAPIHono();
  app.use('*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(pageHeaders)) c.res.headers.set(name, value);
  });

  app.get('/assets/page.js', (c) => c.body(pageScript, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/assets/page.css', (c) => c.body(pageStyle, 200, { 'content-type': 'text/css; charset=utf-8' }));

  // The shell is the same for every link: the script reads the token from the address and asks for the rest.
  app.get('/:token', async (c) => {
    const resolved = await deps.links.resolve(c.req.param('token'));
    const status = resolved.status === 'ok' ? 200 : resolved.status === 'expired' ? 410 : 404;
    return c.html(pageHtml, status);
  });

  app.get('/:token/view', async (c) => {
    const grant = await grantOf(deps, c);
    const script = await scriptOf(deps, grant, 'ask for a new page');
    const card = await deps.screenPop.lookup({ projectId: grant.projectId, phone: grant.phone, defaultRegion: grant.defaultRegion });
    return c.json({ agent: grant.agent, phone: grant.phone, expiresAt: grant.expiresAt.toISOString(), script, card, callback: grant.callback ?? null }, 200);
  });

  // A callback for the page's contact, owned by the page's agent, into the queue the link names.
  app.post('/:token/callback', async (c) => {
    const grant = await grantOf(deps, c);
    if (grant.callback === undefined) throw new ProblemError(409, 'Conflict', 'This page link books no callbacks; ask for one with "callback".', [{ field: 'callback', message: 'not offered on this page' }]);
    const body = await readJson(c);
    const given = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
    const unknown = Object.keys(given).filter((key) => key !== 'at' && key !== 'note').map((key) => ({ field: key, message: 'unknown field' }));
    if (unknown.length > 0) throw validationProblem(unknown);
    const input = {
      phone: grant.phone,
      at: given.at,
      queue: grant.callback.queue,
      agent: grant.agent,
      ...(grant.callback.callerId === undefined ? {} : { callerId: grant.callback.callerId }),
      ...(given.note === undefined ? {} : { note: given.note }),
    };
    const { callback, created } = await deps.callbacks.create(grant.projectId, input).catch((error: unknown) => {
      if (error instanceof TelephonyConfigError) {
        throw new ProblemError(error.status, error.status === 422 ? 'Invalid request' : 'Conflict', error.message, error.errors.length > 0 ? error.errors : undefined);
      }
      throw error;
    });
    return c.json({ id: callback.id, at: callback.at, agent: callback.agent, queue: callback.queue, state: callback.state }, created ? 201 : 200);
  });

  app.post('/:token/answers', async (c) => {
    const grant = await grantOf(deps, c);
    const script = await scriptOf(deps, grant, 'the answers were not saved');
    const body = await readJson(c);
    const given = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>).answers : undefined;
    if (given === null || typeof given !== 'object' || Array.isArray(given)) throw validationProblem([{ field: 'answers', message: 'expected an object: question id -> answer' }]);
    const unknown: FieldError[] = Object.keys(body as object).filter((key) => key !== 'answers').map((key) => ({ field: key, message: 'unknown field' }));
    const checked = scriptAnswers(script, given as Record<string, unknown>);
    if (unknown.length > 0) throw validationProblem([...unknown, ...(checked.ok ? [] : checked.errors.filter((error) => error.field !== 'answers'))], 'Some answers cannot be saved.');
    if (!checked.ok) throw validationProblem(checked.errors, 'Some answers cannot be saved.');
    const project = { id: grant.projectId, defaultRegion: grant.defaultRegion };
    const accepted = await deps.answers
      .record(project, { phone: grant.phone, agent: grant.agent, answers: checked.byField, ...(grant.callId === undefined ? {} : { callId: grant.callId }) })
      .catch((error: unknown) => {
        if (error instanceof AgentAnswersError) throw validationProblem(error.errors.map((entry) => ({ ...entry, field: questionFieldName(script, entry.field) })), 'Some answers cannot be saved.');
        throw error;
      });
    return c.json({ saved: checked.saved, answeredAt: accepted.answeredAt }, 202);
  });

  return app;
}

async function grantOf(deps: AgentPageDeps, c: Context): Promise<PageGrant> {
  const resolved = await deps.links.resolve(c.req.param('token') ?? '');
  if (resolved.status === 'ok') return resolved.grant;
  if (resolved.status === 'expired') throw new ProblemError(410, 'Link expired', 'This page link has expired; ask for a new one.');
  throw new ProblemError(404, 'Not found', 'No page behind this link.');
}

async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch (error) {
    throw new ProblemError(400, 'Malformed JSON', 'The request body is not valid JSON.', [{ field: '(body)', message: error instanceof Error ? error.message : String(error) }]);
  }
}

/** The link's script, or a 404 saying it was deleted and what that means here. */
async function scriptOf(deps: AgentPageDeps, grant: PageGrant, consequence: string): Promise<ScriptView> {
  const script = await deps.scripts.find(grant.projectId, grant.script);
  if (!script) throw new ProblemError(404, 'Not found', `The script "${grant.script}" no longer exists; ${consequence}.`, [{ field: 'script', message: 'deleted' }]);
  return script;
}
