// npm run connector:new <name> - scaffolds connectors/<name>/ with a REST
// connector skeleton and its contract test, ready to fill in.
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../prisma/tooling/paths.js';

const name = process.argv[2];
if (!name || !/^[a-z0-9][a-z0-9-]*$/.test(name)) {
  console.error('usage: npm run connector:new <name>   (lowercase letters, digits, dashes)');
  process.exit(2);
}
const dir = join(repoRoot, 'connectors', name);
const exists = await access(dir).then(
  () => true,
  () => false,
);
if (exists) {
  console.error(`connectors/${name} exists already`);
  process.exit(2);
}
const camel = name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const connectorTs = `// ${name}: connector for <CRM>. Provider facts below are data, checked at boot.
import { z } from 'zod';
import { defineConnector, type CrmContact } from '../sdk/index.js';

export const ${camel} = defineConnector({
  id: '${name}',
  title: '<CRM name>',
  configSchema: z.object({
    baseUrl: z.url(),
    apiToken: z.string().min(1),
  }),
  secrets: ['apiToken'],
  provider: {
    auth: { mode: 'bearer', configKey: 'apiToken' },
    rateLimit: { throttleStatuses: [429], retryAfterHeader: 'retry-after' },
    errors: { codePath: 'error.code', messagePath: 'error.message' },
  },
  baseUrl: (config) => config.baseUrl,
  credential: (config) => config.apiToken,
  // What the CRM documents; the limiter learns undocumented limits on its own.
  limits: { requests: { count: 10, windowMs: 1000 } },
  create({ http, cache }) {
    const toContact = (record: Record<string, unknown>): CrmContact => ({
      externalId: String(record.id),
      phone: (record.phone as string | null) ?? null,
      name: (record.name as string | null) ?? null,
      email: (record.email as string | null) ?? null,
      fields: {},
    });
    return {
      async findContacts(query) {
        const response = await http.request<{ items: Record<string, unknown>[] }>({ method: 'GET', path: 'contacts', query: { ...query } });
        return response.body.items.map(toContact);
      },
      async getContact(externalId) {
        return cache.wrap(\`contact:\${externalId}\`, async () => {
          const response = await http.request<Record<string, unknown>>({ method: 'GET', path: \`contacts/\${encodeURIComponent(externalId)}\` });
          return toContact(response.body);
        });
      },
      async upsertContact(contact) {
        const [existing] = await this.findContacts({ phone: contact.phone });
        if (existing) {
          await http.request({ method: 'PATCH', path: \`contacts/\${existing.externalId}\`, json: contact });
          cache.invalidate(\`contact:\${existing.externalId}\`);
          return { externalId: existing.externalId, created: false };
        }
        const created = await http.request<{ id: string }>({ method: 'POST', path: 'contacts', json: contact });
        return { externalId: String(created.body.id), created: true };
      },
      async logActivity(activity) {
        const response = await http.request<{ id: string }>({ method: 'POST', path: 'activities', json: activity });
        return { externalId: String(response.body.id) };
      },
      async updateDealStatus(input) {
        await http.request({ method: 'PATCH', path: \`deals/\${input.dealExternalId}\`, json: { status: input.status } });
      },
      async close() {},
    };
  },
});
`;

const contractTs = `// Contract of the ${name} connector: npm run connector:test ${name}
import { runConnectorContract } from '../testkit/contract.js';

runConnectorContract('${name}', async () => {
  // Start the CRM's sandbox (or point at a test account) and build the connector on it.
  throw new Error('connectors/${name}/contract.test.ts: describe how to reach a ${name} CRM for tests');
});
`;

await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'connector.ts'), connectorTs);
await writeFile(join(dir, 'contract.test.ts'), contractTs);
console.log(`created connectors/${name}/connector.ts and connectors/${name}/contract.test.ts

next:
  1. fill in provider facts, config schema and operations in connectors/${name}/connector.ts
  2. give the contract test a CRM to talk to (a sandbox in connectors/${name}/sandbox/ or a test account)
  3. add ${camel} to defaultConnectors in connectors/registry.ts
  4. npm run connector:test ${name}`);
