// The connector's data: provider facts accepted by the SDK schema, configuration
// refused by field at creation, declared limits per plan, and the PHP query codec.
import { describe, expect, it } from 'vitest';
import { providerFactsSchema } from '../sdk/provider.js';
import { declaredLimits } from './config.js';
import { bitrix24, bitrix24ConfigSchema } from './connector.js';
import { buildPhpQuery, MAX_PHP_INPUT_VARS, MAX_PHP_NESTING, parsePhpQuery, PhpQueryLimitError } from './php-query.js';

const webhookUrl = 'https://acme.bitrix24.ru/rest/1/abc123def456';

describe('bitrix24 definition', () => {
  it('declares provider facts the SDK accepts', () => {
    expect(providerFactsSchema.parse(bitrix24.provider)).toMatchObject({
      auth: { mode: 'url' },
      rateLimit: { throttleStatuses: [429], throttleErrorCodes: ['QUERY_LIMIT_EXCEEDED'] },
      errors: { codePath: 'error', messagePath: 'error_description' },
      pagination: { style: 'offset', param: 'start', pageSize: 50 },
      batch: { maxCalls: 50 },
    });
    expect(bitrix24.secrets).toEqual(['webhookUrl', 'applicationToken']);
    expect(bitrix24.baseUrl?.(bitrix24ConfigSchema.parse({ webhookUrl }))).toBe(`${webhookUrl}/`);
  });

  it('refuses bad configuration naming the field', () => {
    const issues = (input: unknown) => bitrix24ConfigSchema.safeParse(input).error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    expect(issues({ webhookUrl: 'https://acme.bitrix24.ru/crm/contact/' })).toEqual(['webhookUrl: must be an inbound-webhook URL ending with /rest/<user id>/<token>/']);
    expect(issues({ webhookUrl, fieldMap: { phone: 'PHONE' }, phoneRegion: 'XX' })).toEqual([
      'phoneRegion: must be a region code with phone metadata, e.g. RU',
      'fieldMap.phone: is written by the connector itself and cannot be mapped',
    ]);
    expect(issues({ webhookUrl, limits: { ratePerSecond: 0, burst: 20 } })?.[0]).toMatch(/^limits/);
    expect(issues({ webhookUrl, responsibleAgents: { alice: '17', '007': 'bob' } })).toEqual([
      'responsibleAgents.alice: must be a Bitrix24 user id such as 17',
      'responsibleAgents.007: must be a Bitrix24 user id such as 17',
    ]);
    expect(issues({ webhookUrl, responsibleAgents: { 5: ' ' } })).toEqual(['responsibleAgents.5: must name the hub agent']);
    // Written back as ASSIGNED_BY_ID: one agent stands for one user, and nothing else writes the field.
    expect(issues({ webhookUrl, responsibleAgents: { 17: 'alice', 23: 'alice' }, fieldMap: { owner: 'ASSIGNED_BY_ID' } })).toEqual([
      'responsibleAgents.23: maps to agent "alice" as 17 does: one agent, one owner',
      'fieldMap.owner: responsibleAgents already maps responsibleAgent onto ASSIGNED_BY_ID',
    ]);
    expect(issues({ webhookUrl, fieldMap: { owner: 'ASSIGNED_BY_ID' } })).toBeUndefined();
  });

  it('declares the documented plan limits, an override, or nothing to learn', () => {
    const limitsOf = (extra: object) => declaredLimits(bitrix24ConfigSchema.parse({ webhookUrl, ...extra }));
    expect(limitsOf({})).toEqual({ requests: { count: 2, windowMs: 1000 }, burst: 50 });
    expect(limitsOf({ plan: 'enterprise' })).toEqual({ requests: { count: 5, windowMs: 1000 }, burst: 250 });
    expect(limitsOf({ limits: { ratePerSecond: 10, burst: 20 } })).toEqual({ requests: { count: 10, windowMs: 1000 }, burst: 20 });
    expect(limitsOf({ limits: { ratePerSecond: 0.5, burst: 5 } })).toEqual({ requests: { count: 1, windowMs: 2000 }, burst: 5 });
    expect(limitsOf({ limits: { ratePerSecond: 10, burst: 1 } })).toEqual({ requests: { count: 10, windowMs: 1000 } });
    expect(limitsOf({ limits: 'undeclared' })).toEqual({});
  });
});

describe('PHP query codec', () => {
  it('round-trips nested parameters the way http_build_query and parse_str do', () => {
    const params = { id: 5, fields: { NAME: 'Иван & Co', PHONE: [{ VALUE: '+7 912', VALUE_TYPE: 'WORK' }], OPENED: true, SKIP: null }, select: ['ID', 'UF_*'] };
    const query = buildPhpQuery(params);
    expect(query).toBe(
      'id=5&fields%5BNAME%5D=%D0%98%D0%B2%D0%B0%D0%BD%20%26%20Co&fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=%2B7%20912&fields%5BPHONE%5D%5B0%5D%5BVALUE_TYPE%5D=WORK&fields%5BOPENED%5D=1&select%5B0%5D=ID&select%5B1%5D=UF_*',
    );
    expect(parsePhpQuery(query)).toEqual({ id: '5', fields: { NAME: 'Иван & Co', PHONE: [{ VALUE: '+7 912', VALUE_TYPE: 'WORK' }], OPENED: '1' }, select: ['ID', 'UF_*'] });
    expect(parsePhpQuery('values[]=a&values[]=b&x+y=1%2&__proto__[polluted]=1')).toEqual({ values: ['a', 'b'], 'x y': '1%2' });
    // "[]" appends after the highest index, as PHP does, in time linear in the fields.
    expect(parsePhpQuery('a[5]=x&a[]=y&a[2]=z&a[]=w')).toEqual({ a: { 5: 'x', 6: 'y', 2: 'z', 7: 'w' } });
    const appended = parsePhpQuery(Array.from({ length: MAX_PHP_INPUT_VARS }, (_, index) => `v[]=${index}`).join('&'));
    expect(appended.v).toEqual(Array.from({ length: MAX_PHP_INPUT_VARS }, (_, index) => String(index)));
    // Beyond PHP's own input limits the query is refused whole.
    expect(() => parsePhpQuery(Array.from({ length: MAX_PHP_INPUT_VARS + 1 }, () => 'v[]=1').join('&'))).toThrow(PhpQueryLimitError);
    expect(() => parsePhpQuery(`a${'[a]'.repeat(MAX_PHP_NESTING)}=1`)).toThrow(/deeper than 64/);
    expect(parsePhpQuery(`a${'[a]'.repeat(MAX_PHP_NESTING - 1)}=1`)).toBeTypeOf('object');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
