import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fieldErrorsFrom, isoInstant, MAX_BODY_DEPTH, unknownFields, unstorableText, unstorableValue } from './validation.js';

const nested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level += 1) value = { a: value };
  return value;
};

describe('unstorableValue', () => {
  it('names the field holding a NUL, in a value or in a key, at any depth', () => {
    expect(unstorableValue({ name: 'Ada', data: { note: 'a\u0000b' } })).toEqual({ field: 'data.note', message: expect.stringContaining('NUL') });
    expect(unstorableValue({ tasks: [{ phone: '1' }, { fields: { 'x\u0000': 1 } }] })?.field).toBe('tasks.1.fields.x\u0000');
    expect(unstorableValue('\u0000')?.field).toBe('(body)');
    expect(unstorableValue({ x: '\u0000' }, ['events', 2])?.field).toBe('events.2.x');
  });

  it('refuses unpaired surrogates and keeps real characters outside the BMP', () => {
    expect(unstorableText('a\ud800')).toMatch(/unpaired surrogate/);
    expect(unstorableText('\udc00a')).toMatch(/unpaired surrogate/);
    expect(unstorableText('\ud83d\ude00 Ω ünï 中文 \u200f')).toBeUndefined();
    expect(unstorableValue({ name: 'Ada 😀', list: [1, true, null, 'x'] })).toBeUndefined();
  });

  it(`refuses nesting deeper than ${MAX_BODY_DEPTH} levels without recursing`, () => {
    expect(unstorableValue(nested(MAX_BODY_DEPTH))).toBeUndefined();
    expect(unstorableValue(nested(MAX_BODY_DEPTH + 1))?.message).toBe(`nests deeper than ${MAX_BODY_DEPTH} levels`);
    // Far past any stack: answered, not thrown.
    expect(unstorableValue(JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`))?.message).toMatch(/deeper/);
  });
});

describe('isoInstant', () => {
  it('takes 1970 to 9999 with an offset and refuses year 0 and times without a zone', () => {
    expect(isoInstant().safeParse('2026-11-25T10:00:00+03:00').success).toBe(true);
    expect(isoInstant().safeParse('9999-12-31T23:59:59Z').success).toBe(true);
    expect(isoInstant().safeParse('0000-01-01T00:00:00Z').error?.issues[0]?.message).toBe('must be between 1970-01-01 and 9999-12-31');
    expect(isoInstant().safeParse('1969-12-31T23:59:59Z').success).toBe(false);
    expect(isoInstant().safeParse('2026-11-25T10:00:00').success).toBe(false);
  });
});

describe('unknown fields', () => {
  it('a strict schema names each key it refuses as its own field', () => {
    const schema = z.object({ name: z.string(), auth: z.object({ user: z.string() }).strict() }).strict();
    const parsed = schema.safeParse({ name: 'x', nmae: 'y', auth: { user: 'u', usr: 'v' } });
    expect(parsed.success).toBe(false);
    expect(fieldErrorsFrom(parsed.error!, ['tasks', 0])).toEqual(expect.arrayContaining([
      { field: 'tasks.0.nmae', message: 'unknown field' },
      { field: 'tasks.0.auth.usr', message: 'unknown field' },
    ]));
    expect(fieldErrorsFrom(parsed.error!)).toHaveLength(2);
  });

  it('a lenient schema\'s dropped keys are found by comparing what it made of the input', () => {
    const schema = z.object({ routes: z.array(z.object({ prefix: z.string() })) });
    const input = { routes: [{ prefix: '49' }, { prefix: '', price: 1 }], extra: true };
    expect(unknownFields(input, schema.parse(input))).toEqual([
      { field: 'routes.1.price', message: 'unknown field' },
      { field: 'extra', message: 'unknown field' },
    ]);
  });
});
