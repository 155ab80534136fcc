// Runs the Bitrix24 sandbox (a stand-in for a Bitrix24 portal) on its own, for
// demos and manual tries with curl. A dev tool, so it reads its few settings from
// argv / the environment directly instead of the hub's config:
//
//   npx tsx connectors/bitrix24/sandbox/main.ts [port]
//   BITRIX_SANDBOX_RATE=10 BITRIX_SANDBOX_BURST=20 BITRIX_SANDBOX_TOKEN=demo npx tsx connectors/bitrix24/sandbox/main.ts 8024
import { startBitrixSandbox } from './server.js';

function numberFrom(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`${name} must be a non-negative number, got "${value}"`);
  return parsed;
}

const sandbox = await startBitrixSandbox({
  host: process.env.BITRIX_SANDBOX_HOST ?? '127.0.0.1',
  port: numberFrom(process.argv[2] ?? process.env.BITRIX_SANDBOX_PORT, 'port') ?? 8024,
  token: process.env.BITRIX_SANDBOX_TOKEN || undefined,
  ratePerSecond: numberFrom(process.env.BITRIX_SANDBOX_RATE, 'BITRIX_SANDBOX_RATE'),
  burst: numberFrom(process.env.BITRIX_SANDBOX_BURST, 'BITRIX_SANDBOX_BURST'),
  latencyMs: numberFrom(process.env.BITRIX_SANDBOX_LATENCY_MS, 'BITRIX_SANDBOX_LATENCY_MS'),
  applicationToken: process.env.BITRIX_SANDBOX_APPLICATION_TOKEN || undefined,
});

const { limit } = sandbox.stats();
console.log(`Bitrix24 sandbox (a stand-in for a Bitrix24 portal) on ${sandbox.url}`);
console.log(`  inbound webhook:   ${sandbox.webhookBase}`);
console.log(`  application token: ${sandbox.applicationToken} (outbound events)`);
console.log(`  rate limit:        ${limit.ratePerSecond}/s, bucket ${limit.burst}`);
console.log(`  try: curl -s -X POST ${sandbox.webhookBase}crm.contact.add.json -H 'content-type: application/json' -d '{"fields":{"NAME":"Ada","PHONE":[{"VALUE":"+79123456789","VALUE_TYPE":"WORK"}]}}'`);

const stop = () => {
  sandbox.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
