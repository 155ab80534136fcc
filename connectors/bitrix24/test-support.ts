// Building a Bitrix24 connector instance for tests the way the runtime will:
// parsed config, provider facts through the SDK's schema, the SDK's HTTP client
// and read cache, and whatever RequestLimiter the test hands in (the recording
// pass-through below until the SDK's limiter is used instead).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectorContext } from '../sdk/define.js';
import { ReadCache } from '../sdk/cache.js';
import { createCrmHttpClient } from '../sdk/http.js';
import type { LimiterSnapshot, RequestLimiter, ThrottleSignal } from '../sdk/limits/types.js';
import { providerFactsSchema } from '../sdk/provider.js';
import type { ConnectorOperations, WebhookRequest } from '../sdk/types.js';
import { bitrix24, bitrix24ConfigSchema, type Bitrix24Config, type Bitrix24ConfigInput } from './connector.js';

/** Runs every job at once and records what the HTTP client reported; no limiting. */
export class RecordingLimiter implements RequestLimiter {
  scheduled = 0;
  succeeded = 0;
  readonly throttles: ThrottleSignal[] = [];

  async schedule<T>(job: () => Promise<T>): Promise<T> {
    this.scheduled += 1;
    return job();
  }

  onThrottled(signal: ThrottleSignal): void {
    this.throttles.push(signal);
  }

  onRateLimitHeaders(): void {}

  onSuccess(): void {
    this.succeeded += 1;
  }

  snapshot(): LimiterSnapshot {
    return { allowedPerSecond: Number.POSITIVE_INFINITY, throttledResponses: this.throttles.length, succeeded: this.succeeded, queued: 0, shared: false };
  }

  async close(): Promise<void> {}
}

export interface ContextOptions {
  /** Shorter than the provider's 10 s so timeout tests stay fast. */
  timeoutMs?: number;
  maxThrottleRetries?: number;
  cacheTtlMs?: number;
}

export function makeContext(config: Bitrix24ConfigInput, limiter: RequestLimiter, options: ContextOptions = {}): ConnectorContext<Bitrix24Config> {
  const parsed = bitrix24ConfigSchema.parse(config);
  const provider = providerFactsSchema.parse({ ...bitrix24.provider, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  const baseUrl = bitrix24.baseUrl?.(parsed) ?? provider.baseUrl;
  if (!baseUrl) throw new Error('bitrix24 has no base URL');
  return {
    instanceId: 'bitrix24-test',
    config: parsed,
    http: createCrmHttpClient({ baseUrl, provider, limiter, ...(options.maxThrottleRetries !== undefined ? { maxThrottleRetries: options.maxThrottleRetries } : {}) }),
    limiter,
    cache: new ReadCache(options.cacheTtlMs),
  };
}

export function makeOperations(config: Bitrix24ConfigInput, limiter: RequestLimiter = new RecordingLimiter(), options?: ContextOptions): ConnectorOperations {
  return bitrix24.create(makeContext(config, limiter, options));
}

/** A stand-in for the hub's webhook endpoint: keeps the exact requests it was sent. */
export async function startWebhookCapture(): Promise<{ url: string; received: WebhookRequest[]; close(): Promise<void> }> {
  const received: WebhookRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : (value ?? '')]));
      received.push({ headers, rawBody: Buffer.concat(chunks).toString('utf8'), query: {} });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/bitrix24`,
    received,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
