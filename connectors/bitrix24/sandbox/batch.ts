// The `batch` method (https://apidocs.bitrix24.com/settings/how-to-call-rest-api/batch.html):
// `cmd` maps keys to sub-calls written as query strings ("crm.contact.get?id=5"),
// at most 50; they run in order; a later call may use an earlier one's answer as
// `$result[key][field]...`; `halt` stops at the first error. The answer is
// `{ result: { result, result_error, result_total, result_next, result_time } }`,
// each keyed by cmd key (PHP prints an empty one as []). The whole batch is one
// request for the rate limit; nested batches are refused.
import { parsePhpQuery } from '../php-query.js';
import { BitrixMethodError, refused, timeInfo, type MethodOutput } from './envelope.js';
import { findMethod } from './methods.js';
import type { Portal } from './portal.js';
import type { Row } from './query.js';

export const maxBatchCalls = 50;

export interface BatchOutcome extends MethodOutput {
  /** Sub-calls carried, for the stats. */
  calls: number;
}

export function runBatch(params: Row, portal: Portal): BatchOutcome {
  const upper = Object.fromEntries(Object.entries(params).map(([key, value]) => [key.toUpperCase(), value]));
  const halt = ['1', 'true', 'Y'].includes(String(upper.HALT ?? '0'));
  const cmd = upper.CMD;
  if (cmd === null || typeof cmd !== 'object') throw refused("Parameter 'cmd' must be array.");
  const commands = Object.entries(cmd as Record<string, unknown>);
  if (commands.length > maxBatchCalls) throw refused('Max batch length exceeded', 'ERROR_BATCH_LENGTH_EXCEEDED');

  const results: Record<string, unknown> = {};
  const errors: Record<string, unknown> = {};
  const totals: Record<string, number> = {};
  const nexts: Record<string, number> = {};
  const times: Record<string, unknown> = {};
  for (const [key, command] of commands) {
    const startedAt = Date.now();
    try {
      const output = runOne(String(command), results, portal);
      results[key] = output.result;
      if (output.total !== undefined) totals[key] = output.total;
      if (output.next !== undefined) nexts[key] = output.next;
      times[key] = timeInfo(startedAt);
    } catch (error) {
      if (!(error instanceof BitrixMethodError)) throw error;
      errors[key] = error.body();
      if (halt) break;
    }
  }
  const phpObject = (value: Record<string, unknown>) => (Object.keys(value).length === 0 ? [] : value);
  return {
    result: {
      result: phpObject(results),
      result_error: phpObject(errors),
      result_total: phpObject(totals),
      result_next: phpObject(nexts),
      result_time: phpObject(times),
    },
    calls: commands.length,
  };
}

function runOne(command: string, earlier: Record<string, unknown>, portal: Portal): MethodOutput {
  const question = command.indexOf('?');
  const method = (question === -1 ? command : command.slice(0, question)).trim();
  if (method.toLowerCase() === 'batch') throw new BitrixMethodError(400, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage');
  const handler = findMethod(method);
  if (!handler) throw new BitrixMethodError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!');
  const params = substitute(parsePhpQuery(question === -1 ? '' : command.slice(question + 1)), earlier) as Row;
  return handler(params, portal);
}

const wholeReference = /^\$result\[([^\]]+)\]((?:\[[^\]]*\])*)$/;
const embeddedReference = /\$result\[([^\]]+)\]((?:\[[^\]]*\])*)/g;

/** Replaces `$result[key][path]` with the earlier answer; a value that is only a reference keeps its type (arrays too). */
function substitute(value: unknown, earlier: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = wholeReference.exec(value);
    if (whole) return resolve(earlier, whole[1] as string, whole[2] as string) ?? value;
    return value.replace(embeddedReference, (reference, key: string, path: string) => {
      const resolved = resolve(earlier, key, path);
      return resolved === undefined || typeof resolved === 'object' ? reference : String(resolved);
    });
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, earlier));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, earlier)]));
  }
  return value;
}

function resolve(earlier: Record<string, unknown>, key: string, path: string): unknown {
  let current: unknown = earlier[key];
  for (const match of path.matchAll(/\[([^\]]*)\]/g)) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[match[1] as string];
  }
  return current;
}
