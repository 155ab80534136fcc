// The HTTP API: one sub-app per resource, one error handler, one OpenAPI document.
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { except } from 'hono/combine';
import type { Db } from '../core/db/client.js';
import type { Logger } from '../core/logger.js';
import { ApiKeyResolver } from '../core/projects/api-keys.js';
import type { TemporalGateway } from '../core/temporal/gateway.js';
import { connectorRoutes, type ConnectorRoutesDeps } from './routes/connectors.js';
import { webhookRoutes } from './routes/webhooks.js';
import { WebhookReceiver } from '../core/webhooks/receiver.js';
import { conflictRoutes } from './routes/conflicts.js';
import { reconciliationRoutes } from './routes/reconciliation.js';
import { contactRoutes } from './routes/contacts.js';
import { ScreenPopService } from '../core/screenpop/service.js';
import { requireProject } from './auth.js';
import { mountDocs } from './openapi.js';
import { rejectUnstorableBodies, requireJsonBodies } from './body-guard.js';
import { agentAnswerRoutes } from './routes/agent-answers.js';
import { AgentAnswers } from '../core/agent-desk/agent-answers.js';
import { AgentPageLinks } from '../core/agent-desk/page-links.js';
import { AgentScripts } from '../core/agent-desk/scripts.js';
import { agentPageLinkRoutes, agentPageRoutes } from './routes/agent-pages.js';
import { scriptRoutes } from './routes/scripts.js';
import { agentRoutes } from './routes/agents.js';
import { reportRoutes } from './routes/reports.js';
import type { TelephonyControlClient } from '../telephony/runtime/control-client.js';
import { allowedMethods } from './method-not-allowed.js';
import { ProblemError, renderProblem, toProblem } from './problem.js';
import { healthRoutes } from './routes/health.js';
import { taskRoutes } from './routes/tasks.js';
import { telephonyRoutes, type TelephonyRoutesDeps } from './routes/telephony.js';
import { campaignRoutes } from './routes/campaigns.js';
import { PreviewDesk } from '../telephony/dialer/preview.js';
import { CampaignStore } from '../telephony/dialer/campaign-store.js';
import { DialerTasks } from '../telephony/dialer/dialer-tasks.js';
import { callbackRoutes } from './routes/callbacks.js';
import { CallbackStore } from '../telephony/callbacks/callback-store.js';
import { describeJourney } from '../workflows/journey/client.js';
import { journeyWorkflowId } from '../workflows/journey/shared.js';

export interface AppDeps {
  db: Db;
  temporal: TemporalGateway;
  logger: Logger;
  taskQueue: string;
  maxTasksPerRequest: number;
  /** Told when new work is in the outbox. */
  onQueued?: () => void;
  connectors: ConnectorRoutesDeps;
  /** The telephony process's control endpoint, for agents' presence under /v1/agents (absent: no such routes). */
  telephonyControl?: TelephonyControlClient;
  /** Trunks, queues, IVR menus and CDRs under /v1/telephony. */
  telephony?: Omit<TelephonyRoutesDeps, 'db'>;
}

const maxBodyBytes = 8 * 1024 * 1024;
const maxWebhookBodyBytes = 1024 * 1024;
const maxAgentPageBodyBytes = 512 * 1024;

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono();
  const keys = new ApiKeyResolver(deps.db);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'Project API key (chk_...), shown once when the project is created',
  });

  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new ProblemError(413, 'Body too large', `Requests are limited to ${maxBodyBytes} bytes; split the batch.`);
      },
    }),
  );
  // A CRM's event is a few kilobytes, and webhook bodies are read before the signature check can
  // refuse them: a much lower ceiling than for a batch of tasks.
  app.use(
    '/v1/webhooks/*',
    bodyLimit({
      maxSize: maxWebhookBodyBytes,
      onError: () => {
        throw new ProblemError(413, 'Body too large', `Webhook calls are limited to ${maxWebhookBodyBytes} bytes.`);
      },
    }),
  );
  // CRMs calling webhooks hold no project key; the connector's signature check authenticates them.
  app.use('/v1/*', except('/v1/webhooks/*', requireProject(keys)));
  app.use('/v1/*', except('/v1/webhooks/*', requireJsonBodies()));
  app.use('/v1/*', except('/v1/webhooks/*', rejectUnstorableBodies()));
  // The agent page's calls carry its link's token instead of a key, and the same bodies.
  app.use(
    '/agent/*',
    bodyLimit({
      maxSize: maxAgentPageBodyBytes,
      onError: () => {
        throw new ProblemError(413, 'Body too large', `Agent page calls are limited to ${maxAgentPageBodyBytes} bytes.`);
      },
    }),
  );
  app.use('/agent/*', requireJsonBodies());
  app.use('/agent/*', rejectUnstorableBodies());

  app.route('/', healthRoutes({ db: deps.db, temporal: deps.temporal, taskQueue: deps.taskQueue }));
  app.route(
    '/v1/tasks',
    taskRoutes({
      db: deps.db,
      temporal: deps.temporal,
      maxTasksPerRequest: deps.maxTasksPerRequest,
      onQueued: deps.onQueued ?? (() => undefined),
    }),
  );

  app.route('/v1', connectorRoutes(deps.connectors));
  app.route(
    '/v1/webhooks',
    webhookRoutes({
      receiver: new WebhookReceiver({ db: deps.db, registry: deps.connectors.registry, runtime: deps.connectors.runtime, logger: deps.logger }),
      onQueued: deps.onQueued ?? (() => undefined),
    }),
  );
  // One screen pop per API process: the contacts lookup serves its cards, a supervisor's decision drops them.
  const screenPop = new ScreenPopService({ db: deps.db, runtime: deps.connectors.runtime, logger: deps.logger });
  app.route('/v1', conflictRoutes({ db: deps.db, onQueued: deps.onQueued ?? (() => undefined), onResolved: (projectId, phone) => screenPop.invalidate(projectId, phone) }));
  app.route('/v1', reconciliationRoutes({ db: deps.db, onChanged: (projectId) => screenPop.invalidate(projectId) }));
  if (deps.telephony) app.route('/v1/telephony', telephonyRoutes({ db: deps.db, ...deps.telephony }));
  if (deps.telephonyControl) app.route('/v1/agents', agentRoutes({ control: deps.telephonyControl }));
  app.route('/v1/reports', reportRoutes({ db: deps.db }));
  app.route('/v1/campaigns', campaignRoutes({ campaigns: new CampaignStore(deps.db, deps.onQueued), tasks: new DialerTasks(deps.db), preview: new PreviewDesk(deps.db), onQueued: deps.onQueued }));
  // Callbacks are booked through /v1/callbacks and from the agent page.
  const callbacks = new CallbackStore(deps.db, { onQueued: deps.onQueued, ownerOf: (projectId, phone) => responsibleAgentOf(deps.temporal, projectId, phone) });
  app.route('/v1/callbacks', callbackRoutes({ callbacks }));
  const answers = new AgentAnswers(deps.db, { onQueued: deps.onQueued, onRecorded: (projectId, phone) => screenPop.invalidate(projectId, phone) });
  const agentDesk = { answers, scripts: new AgentScripts(deps.db), links: new AgentPageLinks(deps.db), screenPop, callbacks };
  app.route('/v1/contacts', agentAnswerRoutes({ answers }));
  app.route('/v1/scripts', scriptRoutes(agentDesk));
  app.route('/v1/agent-pages', agentPageLinkRoutes(agentDesk));
  app.route('/agent', agentPageRoutes(agentDesk));
  app.route('/v1/contacts', contactRoutes({ db: deps.db, temporal: deps.temporal, runtime: deps.connectors.runtime, logger: deps.logger, screenPop }));

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Contact hub API',
      version: '0.1.0',
      description: 'Tasks in, contact journeys out. Errors are application/problem+json with the failing fields in errors[].',
    },
  });
  mountDocs(app, '/openapi.json');
  app.get('/', (c) => c.redirect('/docs'));

  app.notFound((c) => {
    const allowed = allowedMethods(app.routes, c.req.path);
    if (allowed.length > 0 && !allowed.includes(c.req.method)) {
      return renderProblem(c, new ProblemError(405, 'Method not allowed', `${c.req.path} takes ${allowed.join(', ')}.`, undefined, { allow: allowed.join(', ') }));
    }
    return renderProblem(c, new ProblemError(404, 'Not found', `No route ${c.req.method} ${c.req.path}.`));
  });
  app.onError((error, c) => {
    const problem = toProblem(error);
    // A bug is an error; a dependency that is down (503 with Retry-After) is worth a warning.
    if (problem.status === 500) deps.logger.error({ err: error, path: c.req.path }, 'request failed');
    else if (problem.status > 500) deps.logger.warn({ path: c.req.path, detail: problem.detail }, 'request refused: a dependency is unavailable');
    return renderProblem(c, problem);
  });
  return app;
}

/** The contact's responsible agent as the journey's merged view holds it (the CRMs' owner field), if any. */
async function responsibleAgentOf(temporal: TemporalGateway, projectId: string, phone: string): Promise<string | undefined> {
  const view = await describeJourney(await temporal.client(), journeyWorkflowId(projectId, phone), 1_000);
  const merged = 'state' in view ? (view.state.merged ?? {}) : {};
  // As the screen pop reads it: a hub field, or a CRM's own field of one of these names.
  for (const name of ['responsibleAgent', 'responsible', 'assignedTo', 'assignedAgent']) {
    for (const value of [merged[name], merged[`fields.${name}`]]) {
      if ((typeof value === 'string' && value !== '') || typeof value === 'number') return String(value);
    }
  }
  return undefined;
}

export type AppType = ReturnType<typeof createApp>;
