import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './unavailable.js';

const wrapped = (cause: unknown) => Object.assign(new Error('Invalid `prisma.task.create()` invocation'), { cause });

describe('isDatabaseUnavailable', () => {
  it('reads socket, server and pool failures through the cause chain', () => {
    expect(isDatabaseUnavailable(wrapped(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })))).toBe(true);
    expect(isDatabaseUnavailable(wrapped(wrapped(new Error('Connection terminated unexpectedly'))))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('the database system is shutting down'), { code: '57P01' }))).toBe(true);
    expect(isDatabaseUnavailable(wrapped({ originalCode: '08006', message: 'connection failure' }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error("Can't reach database server"), { code: 'P1001' }))).toBe(true);
  });

  it('leaves statement errors and bugs alone', () => {
    expect(isDatabaseUnavailable(wrapped(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' })))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
    expect(isDatabaseUnavailable(undefined)).toBe(false);
  });
});
