// POST /v1/webhooks/{connectorInstanceId}: where CRMs call the hub. Authenticated
// by the connector's signature check, not by a project key (the CRM has none).
// 200 only after the events are durably stored; 503 when they cannot be, so the
// CRM retries; 4xx for calls that no retry would fix.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import {
  MalformedWebhookError,
  UnknownWebhookTargetError,
  WebhookSignatureError,
  WebhooksNotSupportedError,
  WebhookUnavailableError,
  type WebhookReceiver,
} from '../../core/webhooks/receiver.js';
import { problemResponses } from '../openapi.js';
import { ProblemError } from '../problem.js';

export interface WebhookRoutesDeps {
  receiver: WebhookReceiver;
  /** Called when new work was committed to the outbox. */
  onQueued: () => void;
}

/** Seconds a CRM is asked to wait before retrying a call the hub could not store. */
const retryAfterSeconds = 30;

const receiveRoute = createRoute({
  method: 'post',
  path: '/{connectorInstanceId}',
  tags: ['Webhooks'],
  summary: 'Receive a CRM event webhook',
  description:
    'The URL to configure in the CRM as the outbound webhook of a connector instance. The body is read exactly as sent ' +
    '(form-encoded or JSON) and verified by the connector (Bitrix24: `auth[application_token]`). Events are stored and ' +
    'de-duplicated by the CRM\'s event id before the 200; each new event then reaches its contact\'s journey.',
  request: {
    params: z.object({ connectorInstanceId: z.string().describe('Connector instance id (uuid)') }),
    body: {
      required: true,
      content: {
        'application/x-www-form-urlencoded': { schema: z.record(z.string(), z.unknown()) },
        'application/json': { schema: z.record(z.string(), z.unknown()) },
      },
    },
  },
  responses: {
    200: {
      description: 'Stored: new events are queued for their journeys, redeliveries are counted as duplicates',
      content: {
        'application/json': {
          schema: z.object({ received: z.number().int(), duplicates: z.number().int().describe('Events stored by an earlier delivery') }),
        },
      },
    },
    ...problemResponses(400, 401, 404, 503),
  },
});

export function webhookRoutes({ receiver, onQueued }: WebhookRoutesDeps) {
  const app = new OpenAPIHono();

  // Registered for the OpenAPI document; the handler reads the raw body itself,
  // because signatures are computed over the exact bytes.
  app.openAPIRegistry.registerPath(receiveRoute);

  app.post('/:connectorInstanceId', async (c) => {
    const rawBody = await c.req.text();
    const request = { headers: Object.fromEntries(c.req.raw.headers), rawBody, query: c.req.query() };
    const stored = await receiver.receive(c.req.param('connectorInstanceId'), request).catch(toProblem);
    if (stored.queued > 0) onQueued();
    // 200 rather than 202: some CRMs count only 200 as delivered.
    return c.json({ received: stored.received, duplicates: stored.duplicates }, 200);
  });

  return app;
}

function toProblem(error: unknown): never {
  if (error instanceof UnknownWebhookTargetError) throw new ProblemError(404, 'Not found', error.message);
  if (error instanceof WebhooksNotSupportedError) throw new ProblemError(404, 'Not found', error.message);
  if (error instanceof WebhookSignatureError) {
    throw new ProblemError(401, 'Unauthorized', error.message, [{ field: '(signature)', message: 'missing or wrong' }]);
  }
  if (error instanceof MalformedWebhookError) throw new ProblemError(400, 'Malformed webhook', error.message, error.errors);
  if (error instanceof WebhookUnavailableError) {
    throw new ProblemError(503, 'Service unavailable', error.message, undefined, { 'retry-after': String(retryAfterSeconds) });
  }
  throw error;
}
