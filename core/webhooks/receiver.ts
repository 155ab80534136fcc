// Receiving a CRM's webhook call: find the connector instance it names, check
// the call is the CRM's (the connector's own signature check, over the exact
// bytes, with the instance's decrypted secrets), read its events, store them.
// Each way to fail is its own error so the API can answer the CRM precisely:
// CRMs retry on 5xx and give up (or alert) on 4xx.
import type { Logger } from '../logger.js';
import type { Db } from '../db/client.js';
import { fieldErrorsFrom, isUuid, type FieldError } from '../validation.js';
import { CrmError } from '../../connectors/sdk/errors.js';
import type { WebhookEvent, WebhookRequest } from '../../connectors/sdk/types.js';
import type { ConnectorRegistry } from '../../connectors/registry.js';
import { ConnectorUnavailableError, type ConnectorRuntime } from '../../connectors/runtime.js';
import { storeWebhookEvents, webhookEventSchema, type StoredWebhook } from './inbox.js';

/** No such connector instance: the URL is wrong or the instance was deleted. */
export class UnknownWebhookTargetError extends Error {}
/** The instance's connector has no webhook handler. */
export class WebhooksNotSupportedError extends Error {}
/** The call is not signed by the CRM with this instance's secret. */
export class WebhookSignatureError extends Error {}
/** The call is the CRM's but its body cannot be read as events. */
export class MalformedWebhookError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((error) => `${error.field}: ${error.message}`).join('; '));
  }
}
/** The hub cannot check or store the call right now (database, credentials); the CRM should retry. */
export class WebhookUnavailableError extends Error {}

export interface WebhookReceiverDeps {
  db: Db;
  registry: ConnectorRegistry;
  runtime: ConnectorRuntime;
  logger: Logger;
}


export class WebhookReceiver {
  constructor(private readonly deps: WebhookReceiverDeps) {}

  async receive(connectorInstanceId: string, request: WebhookRequest): Promise<StoredWebhook> {
    const { db, registry, runtime, logger } = this.deps;
    if (!isUuid(connectorInstanceId)) throw new UnknownWebhookTargetError(`no connector instance ${connectorInstanceId}`);
    const instance = await db.connectorInstance.findUnique({ where: { id: connectorInstanceId } }).catch((error: unknown) => {
      throw unavailable('cannot look up the connector instance', error, logger);
    });
    if (!instance) throw new UnknownWebhookTargetError(`no connector instance ${connectorInstanceId}`);
    const handler = registry.get(instance.kind)?.definition.webhook;
    if (!handler) throw new WebhooksNotSupportedError(`connector "${instance.name}" (${instance.kind}) does not receive webhooks`);

    checkBodyShape(request);
    let config: unknown;
    try {
      ({ config } = runtime.resolveConfig(instance));
    } catch (error) {
      // Stored config or credentials the hub cannot open: the hub's fault, so the CRM keeps retrying until it is fixed.
      if (error instanceof ConnectorUnavailableError) throw unavailable(`cannot verify calls for connector "${instance.name}"`, error, logger);
      throw error;
    }
    if (!handler.verify(request, config)) {
      // Worth a look when it repeats: a token rotated in the CRM but not in the hub, or someone probing.
      logger.warn({ connectorInstanceId, connector: instance.name }, 'webhook: call refused, signature missing or wrong');
      throw new WebhookSignatureError(`the call is not signed with the secret of connector "${instance.name}"`);
    }

    const events = parseEvents(() => handler.parse(request, config));
    return storeWebhookEvents(db, { id: instance.id, projectId: instance.projectId }, events).catch((error: unknown) => {
      throw unavailable('cannot store the events', error, logger);
    });
  }
}

function unavailable(what: string, error: unknown, logger: Logger): WebhookUnavailableError {
  // Logged in full here; the CRM only learns that it should retry.
  logger.error({ err: error }, `webhook: ${what}`);
  return new WebhookUnavailableError(`${what}; retry later`, { cause: error });
}

/** Bodies that are malformed whoever sent them, checked before any connector reads them. */
function checkBodyShape(request: WebhookRequest): void {
  if (request.rawBody.trim() === '') throw new MalformedWebhookError([{ field: '(body)', message: 'the body is empty' }]);
  if (/json/i.test(request.headers['content-type'] ?? '')) {
    try {
      JSON.parse(request.rawBody);
    } catch (error) {
      throw new MalformedWebhookError([{ field: '(body)', message: `declared as JSON but not valid JSON: ${(error as Error).message}` }]);
    }
  }
}

function parseEvents(parse: () => WebhookEvent[]): WebhookEvent[] {
  let parsed: WebhookEvent[];
  try {
    parsed = parse();
  } catch (error) {
    // Connectors report bodies they cannot read as rejected CrmErrors, in the CRM's terms.
    if (error instanceof CrmError) throw new MalformedWebhookError([{ field: '(body)', message: error.message }]);
    throw error;
  }
  const events: WebhookEvent[] = [];
  for (const [index, event] of parsed.entries()) {
    const checked = webhookEventSchema.safeParse(event);
    // The connector read the body but found nothing usable in it (an empty record id...).
    if (!checked.success) throw new MalformedWebhookError(fieldErrorsFrom(checked.error, ['events', index]));
    events.push(checked.data);
  }
  return events;
}
