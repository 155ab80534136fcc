// Contract of the sql-crm connector on real PostgreSQL and real MariaDB, over a
// legacy-shaped table (no unique phone, free-text phones, JSON in a text column):
// npm run connector:test sql-crm
import { randomInt } from 'node:crypto';
import { runConnectorContract } from '../testkit/contract.js';
import { sqlCrm, sqlCrmConfigSchema } from './connector.js';
import { createTestCrmDatabase, sqlCrmTestContext, type TestDialect } from './test-support.js';

for (const dialect of ['postgres', 'mariadb'] as TestDialect[]) {
  runConnectorContract(`sql-crm on ${dialect}`, async () => {
    const target = await createTestCrmDatabase(dialect);
    const table = `contract_${target.suffix}`;
    await target.db.schema.createTable(table, (columns) => {
      columns.increments('client_id');
      columns.string('tel', 40);
      columns.string('fio', 100);
      columns.string('mail', 100).unique();
      columns.text('notes');
      columns.integer('row_version').notNullable().defaultTo(0);
    });
    const config = (connectionString: string) =>
      sqlCrmConfigSchema.parse({
        connectionString,
        table,
        columns: { id: 'client_id', phone: 'tel', name: 'fio', email: 'mail', fields: 'notes', version: 'row_version', updatedAt: null },
        phoneFormat: 'raw',
        defaultRegion: 'RU',
        queryTimeoutMs: 5_000,
      });
    const used = new Set<string>();
    const subscriber = () => {
      let digits: string;
      do digits = String(randomInt(0, 10_000_000)).padStart(7, '0');
      while (used.has(digits));
      used.add(digits);
      return digits;
    };

    return {
      connect: async (limiter) => sqlCrm.create(sqlCrmTestContext(config(target.url), limiter)),
      freshPhone: () => `+7912${subscriber()}`,
      async seedContactWithFormattedPhone() {
        const digits = subscriber();
        await target.db(table).insert({ tel: `8 (912) ${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}`, fio: 'Seeded by the CRM' });
        return `+7912${digits}`;
      },
      async provokeRejection(crm) {
        // The table's unique e-mail refuses a second contact with the same address.
        const email = `taken-${subscriber()}@example.com`;
        await crm.upsertContact({ phone: `+7912${subscriber()}`, email, fields: {} });
        return crm.upsertContact({ phone: `+7912${subscriber()}`, email, fields: {} });
      },
      async provokeOutage(limiter) {
        const crm = sqlCrm.create(sqlCrmTestContext(config(target.unreachableUrl(1)), limiter));
        try {
          return await crm.upsertContact({ phone: `+7912${subscriber()}`, fields: {} });
        } finally {
          await crm.close();
        }
      },
      teardown: () => target.drop(),
    };
  });
}
