// How the SQL client sorts driver errors, for the codes the live suites cannot
// provoke cheaply (serialization failures, shutdowns, dropped connections).
// The shapes are those of node-postgres and mysql2 errors.
import { describe, expect, it } from 'vitest';
import { CrmError } from '../sdk/errors.js';
import { classifySqlError, isUniqueViolation } from '../sdk/sql.js';

function pgError(code: string, message: string, detail?: string) {
  return Object.assign(new Error(`insert into "clients" ("tel") values ($1) - ${message}`), { code, ...(detail ? { detail } : {}) });
}

function mysqlError(errno: number, code: string, sqlState: string, sqlMessage: string) {
  return Object.assign(new Error(`insert into \`clients\` (\`tel\`) values (?) - ${sqlMessage}`), { errno, code, sqlState, sqlMessage });
}

describe('classifySqlError', () => {
  it.each([
    ['serialization failure', pgError('40001', 'could not serialize access due to concurrent update')],
    ['deadlock', pgError('40P01', 'deadlock detected')],
    ['statement timeout', pgError('57014', 'canceling statement due to statement timeout')],
    ['server shutting down', pgError('57P01', 'terminating connection due to administrator command')],
    ['connection failure', pgError('08006', 'connection failure')],
    ['too many connections', pgError('53300', 'sorry, too many clients already')],
    ['lock not available', pgError('55P03', 'could not obtain lock on row')],
    ['network refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['connection dropped without a code', new Error('Connection terminated unexpectedly')],
    ['pool timeout', Object.assign(new Error('Knex: Timeout acquiring a connection.'), { name: 'KnexTimeoutError' })],
  ])('PostgreSQL / driver: %s is unavailable', (_what, error) => {
    expect(classifySqlError(error)).toMatchObject({ kind: 'unavailable' });
  });

  it.each([
    ['deadlock', mysqlError(1213, 'ER_LOCK_DEADLOCK', '40001', 'Deadlock found when trying to get lock; try restarting transaction')],
    ['lock wait timeout', mysqlError(1205, 'ER_LOCK_WAIT_TIMEOUT', 'HY000', 'Lock wait timeout exceeded; try restarting transaction')],
    ['too many connections', mysqlError(1040, 'ER_CON_COUNT_ERROR', '08004', 'Too many connections')],
    ['statement timeout', mysqlError(1969, 'ER_STATEMENT_TIMEOUT', '70100', 'Query execution was interrupted (max_statement_time exceeded)')],
    ['read-only during failover', mysqlError(1290, 'ER_OPTION_PREVENTS_STATEMENT', 'HY000', 'The MariaDB server is running with the --read-only option')],
    ['connection lost', Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true })],
  ])('MariaDB/MySQL: %s is unavailable', (_what, error) => {
    expect(classifySqlError(error)).toMatchObject({ kind: 'unavailable' });
  });

  it.each([
    ['not null', pgError('23502', 'null value in column "tel" violates not-null constraint'), 'null value in column "tel" violates not-null constraint'],
    ['too long', pgError('22001', 'value too long for type character varying(40)'), 'value too long for type character varying(40)'],
    ['no such column', pgError('42703', 'column "tel" does not exist'), 'column "tel" does not exist'],
    ['trigger validation', pgError('P0001', 'phone is blacklisted'), 'phone is blacklisted'],
    ['foreign key', pgError('23503', 'violates foreign key constraint "fk_client"', 'Key (client_id)=(5) is not present in table "clients".'), 'violates foreign key constraint "fk_client" (Key (client_id)=(5) is not present in table "clients".)'],
  ])('PostgreSQL: %s is rejected with the database\'s words', (_what, error, words) => {
    const classified = classifySqlError(error, error.message.slice(error.message.indexOf(' - ') + 3));
    expect(classified).toMatchObject({ kind: 'rejected', message: `SQL CRM refused: ${words}` });
  });

  it.each([
    ['duplicate', mysqlError(1062, 'ER_DUP_ENTRY', '23000', "Duplicate entry 'a@b' for key 'mail'")],
    ['too long', mysqlError(1406, 'ER_DATA_TOO_LONG', '22001', "Data too long for column 'tel' at row 1")],
    ['not null', mysqlError(1048, 'ER_BAD_NULL_ERROR', '23000', "Column 'tel' cannot be null")],
    ['no default', mysqlError(1364, 'ER_NO_DEFAULT_FOR_FIELD', 'HY000', "Field 'region' doesn't have a default value")],
    ['check constraint (MariaDB)', mysqlError(4025, 'ER_CONSTRAINT_FAILED', '23000', 'CONSTRAINT `tel_format` failed for `crm`.`clients`')],
    ['trigger SIGNAL', mysqlError(1644, 'ER_SIGNAL_EXCEPTION', '45000', 'phone is blacklisted')],
    ['unknown column', mysqlError(1054, 'ER_BAD_FIELD_ERROR', '42S22', "Unknown column 'tel' in 'field list'")],
  ])('MariaDB/MySQL: %s is rejected with the database\'s words', (_what, error) => {
    expect(classifySqlError(error)).toMatchObject({ kind: 'rejected', message: `SQL CRM refused: ${error.sqlMessage}` });
  });

  it('passes a CrmError through untouched and recognises duplicates on both dialects', () => {
    const conflict = new CrmError('rejected', 'already classified');
    expect(classifySqlError(conflict)).toBe(conflict);
    expect(isUniqueViolation(classifySqlError(pgError('23505', 'duplicate key value violates unique constraint "mail"')))).toBe(true);
    expect(isUniqueViolation(classifySqlError(mysqlError(1062, 'ER_DUP_ENTRY', '23000', 'Duplicate entry')))).toBe(true);
    expect(isUniqueViolation(classifySqlError(pgError('23502', 'null value')))).toBe(false);
  });
});
