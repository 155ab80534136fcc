// Receiving a CRM's webhook call: find the connector instance it names, check
// the call is the CRM's (the connector's own signature check, over the exact
// bytes, with the instance's decrypted secrets), read its events, store them.
// Each way to fail is its own error so the API can answer the CRM precisely:
// CRMs retry on 5xx and give up (or alert) on 4xx.
import type { Logger } from '../logger.js';
import type { Db } from '../db/client.js';
import { fieldErrorsFrom, isUuid, unstorableValue, type FieldError } from '../validation.js';
import { CrmError } from '../../connectors/sdk/errors.js';
import type { WebhookEvent, WebhookRequest } from '../../connectors/sdk/types.js';
import type { ConnectorRegistry } from '../../connectors/registry.js';
import { ConnectorUnavailableError, type ConnectorRuntime } from '../../connectors/runtime.js';
import { INSTANCE_CHANGED, storeWebhookEvents, webhookEventSchema, type StoredWebhook } from './inbox.js';

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


type InstanceRecord = NonNullable<Awaited<ReturnType<Db['connectorInstance']['findUnique']>>>;

/** Instances kept between calls; each store re-checks the instance's stamp, so none is ever used stale. */
const CACHED_INSTANCES = 1_000;

export class WebhookReceiver {
  // CRMs call in bursts (a mass edit is hundreds of calls): the instance, its opened
  // secrets and its parsed config are read once, not per call.
  private readonly instances = new Map<string, { instance: InstanceRecord; config: unknown }>();

  constructor(private readonly deps: WebhookReceiverDeps) {}

  async receive(connectorInstanceId: string, request: WebhookRequest): Promise<StoredWebhook> {
    if (!isUuid(connectorInstanceId)) throw new UnknownWebhookTargetError(`no connector instance ${connectorInstanceId}`);
    const cached = this.instances.get(connectorInstanceId);
    if (cached) {
      // A refused signature may be a secret rotated since the entry was made: checked again on a fresh read.
      let stored: StoredWebhook | typeof INSTANCE_CHANGED;
      try {
        stored = await this.verifyAndStore(cached.instance, cached.config, request, false);
      } catch (error) {
        if (!(error instanceof WebhookSignatureError)) throw error;
        stored = INSTANCE_CHANGED;
      }
      if (stored !== INSTANCE_CHANGED) return stored;
      this.instances.delete(connectorInstanceId);
    }
    const { instance, config } = await this.load(connectorInstanceId);
    const stored = await this.verifyAndStore(instance, config, request, true);
    // Changed again between the read and the store: the CRM retries on the 503.
    if (stored === INSTANCE_CHANGED) throw new WebhookUnavailableError('the connector instance changed while the call was stored; retry later');
    if (this.instances.size >= CACHED_INSTANCES) this.instances.clear();
    this.instances.set(connectorInstanceId, { instance, config });
    return stored;
  }

  private async load(connectorInstanceId: string): Promise<{ instance: InstanceRecord; config: unknown }> {
    const { db, registry, runtime, logger } = this.deps;
    const instance = await db.connectorInstance.findUnique({ where: { id: connectorInstanceId } }).catch((error: unknown) => {
      throw unavailable('cannot look up the connector instance', error, logger);
    });
    if (!instance) throw new UnknownWebhookTargetError(`no connector instance ${connectorInstanceId}`);
    if (!registry.get(instance.kind)?.definition.webhook) {
      throw new WebhooksNotSupportedError(`connector "${instance.name}" (${instance.kind}) does not receive webhooks`);
    }
    try {
      return { instance, config: runtime.resolveConfig(instance).config };
    } catch (error) {
      // Stored config or credentials the hub cannot open: the hub's fault, so the CRM keeps retrying until it is fixed.
      if (error instanceof ConnectorUnavailableError) throw unavailable(`cannot verify calls for connector "${instance.name}"`, error, logger);
      throw error;
    }
  }

  private async verifyAndStore(instance: InstanceRecord, config: unknown, request: WebhookRequest, logRefusal: boolean): Promise<StoredWebhook | typeof INSTANCE_CHANGED> {
    const { db, registry, logger } = this.deps;
    const handler = registry.get(instance.kind)?.definition.webhook;
    if (!handler) throw new WebhooksNotSupportedError(`connector "${instance.name}" (${instance.kind}) does not receive webhooks`);
    checkBodyShape(request);
    if (!handler.verify(request, config)) {
      // Worth a look when it repeats: a token rotated in the CRM but not in the hub, or someone probing.
      if (logRefusal) logger.warn({ connectorInstanceId: instance.id, connector: instance.name }, 'webhook: call refused, signature missing or wrong');
      throw new WebhookSignatureError(`the call is not signed with the secret of connector "${instance.name}"`);
    }
    const events = parseEvents(() => handler.parse(request, config));
    return storeWebhookEvents(db, { id: instance.id, projectId: instance.projectId }, events, { updatedAt: instance.updatedAt }).catch((error: unknown) => {
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
  const body = request.rawBody.trim();
  if (body === '') throw new MalformedWebhookError([{ field: '(body)', message: 'the body is empty' }]);
  const declaredJson = /json/i.test(request.headers['content-type'] ?? '');
  if (declaredJson || body.startsWith('{') || body.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      if (declaredJson) throw new MalformedWebhookError([{ field: '(body)', message: `declared as JSON but not valid JSON: ${(error as Error).message}` }]);
      return;
    }
    const unstorable = unstorableValue(parsed);
    if (unstorable) throw new MalformedWebhookError([unstorable]);
    return;
  }
  // A form: CRMs send a few dozen fields. Counted before any connector parses it, and before the
  // signature check, so an unsigned flood of fields costs one scan.
  let fields = 1;
  for (let at = body.indexOf('&'); at !== -1 && fields <= MAX_FORM_FIELDS; at = body.indexOf('&', at + 1)) fields += 1;
  if (fields > MAX_FORM_FIELDS) throw new MalformedWebhookError([{ field: '(body)', message: `more than ${MAX_FORM_FIELDS} form fields` }]);
}

/** As PHP's max_input_vars: no CRM event comes near it. */
const MAX_FORM_FIELDS = 1000;

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
    // Values no database column takes (a NUL from a form's %00) are the sender's error, not an outage.
    const unstorable = unstorableValue(event, ['events', index]);
    if (unstorable) throw new MalformedWebhookError([unstorable]);
    const checked = webhookEventSchema.safeParse(event);
    // The connector read the body but found nothing usable in it (an empty record id...).
    if (!checked.success) throw new MalformedWebhookError(fieldErrorsFrom(checked.error, ['events', index]));
    events.push(checked.data);
  }
  return events;
}
