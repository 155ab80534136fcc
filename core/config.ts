// The only place that reads process.env. Every process (start, api, worker,
// tests, benchmarks) parses it once here and passes the result down.
// Unset DATABASE_URL / TEMPORAL_ADDRESS mean "start the embedded default".
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
const optionalString = z
  .string()
  .transform((value) => value.trim())
  .pipe(z.string())
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const configSchema = z.object({
  DATABASE_URL: optionalString.pipe(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  TEMPORAL_ADDRESS: optionalString.pipe(
    z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port').optional(),
  ),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('contact-hub'),
  REDIS_URL: optionalString.pipe(z.url({ protocol: /^rediss?$/ }).optional()),
  /** Tests and benchmarks only: a MariaDB to use instead of starting a private one. */
  MARIADB_URL: optionalString.pipe(z.url({ protocol: /^(mysql|mariadb)$/ }).optional()),
  /** 32 bytes, base64: seals connector credentials at rest. npm start makes one under DATA_DIR. */
  CONNECTOR_SECRET_KEY: optionalString.pipe(
    z.base64().refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64 (openssl rand -base64 32)').optional(),
  ),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port.default(3000),
  /** Public base URL printed and used in links; defaults to http://API_HOST:API_PORT. */
  PUBLIC_URL: optionalString.pipe(z.url().optional()),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_POSTGRES_PORT: port.default(54329),
  EMBEDDED_TEMPORAL_PORT: port.default(7233),
  EMBEDDED_TEMPORAL_UI_PORT: port.default(8233),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** A journey with no new event for this long completes; the next event starts a new run. */
  JOURNEY_IDLE_SECONDS: z.coerce.number().int().min(1).default(600),
  /** How often the outbox dispatcher looks for work nobody told it about. */
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).default(1000),
  /** drachtio-server control address (host). Unset: start the drachtio-server stand-in in-process (tests, npm start). */
  DRACHTIO_HOST: optionalString,
  DRACHTIO_PORT: port.default(9022),
  /** Shared secret of the drachtio-server control connection (drachtio-server's own default is "cymru"). */
  DRACHTIO_SECRET: z.string().min(1).default('cymru'),
  /** Where the embedded stand-in listens for SIP over UDP (ignored with DRACHTIO_HOST). 0 picks a free port. */
  SIP_ADDRESS: z.ipv4().default('127.0.0.1'),
  SIP_PORT: z.coerce.number().int().min(0).max(65535).default(5060),
  /** Calls (inbound or outbound) up at once; beyond it new INVITEs get 503 with Retry-After. */
  SIP_MAX_CONCURRENT_CALLS: z.coerce.number().int().min(1).default(200),
  /** API key used by command-line clients (`npm run tasks:import`); the demo project's key file when unset. */
  HUB_API_KEY: optionalString,
  /** Digest realm agents' phones are challenged with when they REGISTER to the hub. */
  SIP_REALM: z.string().regex(/^[A-Za-z0-9.-]{1,100}$/, 'letters, digits, "." and "-"').default('contact-hub'),
  /** Agents' phone registrations: shorter ones get 423 Interval Too Brief, longer ones are cut to the maximum (seconds). */
  SIP_REGISTER_MIN_EXPIRES: z.coerce.number().int().min(1).max(86_400).default(60),
  SIP_REGISTER_MAX_EXPIRES: z.coerce.number().int().min(1).max(86_400).default(3600),
  /** rtpengine's ng control address (host:port) for IVR media. Unset: a private rtpengine is started when the binary is installed. */
  RTPENGINE_NG: optionalString.pipe(z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port').optional()),
  /** Where the hub listens for rtpengine's DTMF log (rtpengine's --dtmf-log-dest must point here) with RTPENGINE_NG. */
  RTPENGINE_DTMF_LISTEN: z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port').default('127.0.0.1:0'),
  /** Whether `npm start` starts the telephony process (SIP, media, call centers). */
  TELEPHONY: z.enum(['on', 'off']).default('on'),
  /** The telephony process's own Temporal task queue is `telephony-<this>`; unset: host name and process id. */
  TELEPHONY_INSTANCE_ID: optionalString.pipe(z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_", "-"').optional()),
  /** Task queue every telephony process polls for placeCall (any of them may place a call). */
  TELEPHONY_TASK_QUEUE: z.string().min(1).default('telephony'),
  /** The telephony process's control endpoint (health, agent presence): loopback by default. 0 picks a free port. */
  TELEPHONY_CONTROL_HOST: z.string().min(1).default('127.0.0.1'),
  TELEPHONY_CONTROL_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  /** How often the telephony process compares the stored configuration with what it runs (changes made through the API arrive at once by NOTIFY). */
  TELEPHONY_CONFIG_POLL_MS: z.coerce.number().int().min(100).default(30_000),
  /** How long an inbound caller's CRM lookup for the preferred (responsible) agent may delay queueing; past it the caller is queued without one. */
  INBOUND_LOOKUP_DEADLINE_MS: z.coerce.number().int().min(50).max(5_000).default(500),
  /** Largest number of tasks one POST may carry. */
  MAX_TASKS_PER_REQUEST: z.coerce.number().int().min(1).max(10_000).default(1000),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
    );
  }
  return parsed.data;
}

/** For processes that cannot run on embedded defaults (api, worker started on their own). */
export function requireSetting<K extends 'DATABASE_URL' | 'TEMPORAL_ADDRESS' | 'CONNECTOR_SECRET_KEY'>(
  config: Config,
  key: K,
): string {
  const value = config[key];
  if (!value) {
    throw new ConfigError([`${key}: required when this process runs on its own (npm start sets it)`]);
  }
  return value;
}

/** Where the telephony process's control endpoint answers (agent presence, health). */
export function telephonyControlUrl(config: Config): string {
  const host = config.TELEPHONY_CONTROL_HOST === '0.0.0.0' ? '127.0.0.1' : config.TELEPHONY_CONTROL_HOST;
  return `http://${host}:${config.TELEPHONY_CONTROL_PORT}`;
}

export function publicUrl(config: Config): string {
  return config.PUBLIC_URL ?? `http://${config.API_HOST === '0.0.0.0' ? '127.0.0.1' : config.API_HOST}:${config.API_PORT}`;
}
